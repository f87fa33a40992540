package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// userRe guards the paths built from user names (/home/<name>).
var userRe = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`)

// writeUsers creates /etc/passwd and /etc/group for root and the seed's
// users and installs their SSH keys. Root gets every key as well, because
// the tiny guest has no sudo: tests that need root log in as root.
func writeUsers(in *instance) error {
	passwd := []string{"root:*:0:0:root:/root:/bin/sh"}
	group := []string{"root:x:0:"}
	rootKeys := slices.Clone(in.RootKeys)
	for i, u := range in.Users {
		if !userRe.MatchString(u.Name) || u.Name == "root" {
			return fmt.Errorf("user-data: user name %q is not allowed", u.Name)
		}
		uid := 1000 + i
		home := "/home/" + u.Name
		// "*" is a password no one can type yet not a locked account
		// ("!"), which dropbear would refuse even for key logins.
		passwd = append(passwd, fmt.Sprintf("%s:*:%d:%d::%s:%s", u.Name, uid, uid, home, shell(u.Shell)))
		group = append(group, fmt.Sprintf("%s:x:%d:", u.Name, uid))
		if err := installKeys(home, uid, u.Keys); err != nil {
			return err
		}
		rootKeys = append(rootKeys, u.Keys...)
	}
	if err := installKeys("/root", 0, rootKeys); err != nil {
		return err
	}
	for path, lines := range map[string][]string{"/etc/passwd": passwd, "/etc/group": group, "/etc/shells": {"/bin/sh"}} {
		if err := writeFile(path, strings.Join(lines, "\n")+"\n", 0o644); err != nil {
			return err
		}
	}
	return nil
}

// shell keeps the requested shell when the image has it; cloud images ask
// for /bin/bash, which the tiny guest replaces with busybox sh.
func shell(s string) string {
	if s != "" && s == filepath.Clean(s) && filepath.IsAbs(s) {
		if _, err := os.Stat(s); err == nil {
			return s
		}
	}
	return "/bin/sh"
}

// installKeys writes home/.ssh/authorized_keys owned by uid, with the modes
// dropbear insists on.
func installKeys(home string, uid int, keys []string) error {
	dir := filepath.Join(home, ".ssh")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("keys for uid %d: %w", uid, err)
	}
	file := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(file, []byte(strings.Join(keys, "\n")+"\n"), 0o600); err != nil {
		return fmt.Errorf("keys for uid %d: %w", uid, err)
	}
	for _, p := range []string{home, dir, file} {
		if err := os.Chown(p, uid, uid); err != nil {
			return fmt.Errorf("keys for uid %d: %w", uid, err)
		}
	}
	return os.Chmod(home, 0o755)
}
