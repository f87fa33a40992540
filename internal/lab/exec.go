package lab

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Exec runs argv inside the named network namespace (with `ip netns exec`,
// which also gives it that namespace's /sys) and returns its standard
// output. On failure the error holds the exit status and standard error.
func Exec(ctx context.Context, ns string, argv ...string) (string, error) {
	if len(argv) == 0 {
		return "", fmt.Errorf("exec in %s: no command", ns)
	}
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns}, argv...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s in %s: %w: %s", strings.Join(argv, " "), ns, err,
			strings.TrimSpace(errb.String()+"\n"+out.String()))
	}
	return out.String(), nil
}

// Exec runs argv inside the namespace of a lab name: a node, Hub or Outside.
func (l *Lab) Exec(ctx context.Context, name string, argv ...string) (string, error) {
	return Exec(ctx, l.NS(name), argv...)
}

// Humcli runs bin/humcli with args in node-a's namespace against the lab's
// API server, and returns its standard output.
func (l *Lab) Humcli(ctx context.Context, args ...string) (string, error) {
	argv, err := l.HumcliArgv()
	if err != nil {
		return "", err
	}
	return Exec(ctx, l.st.Nodes[0].NS, append(argv, args...)...)
}

// HumcliArgv is humcli and the flags that reach the lab's API server (and,
// in a secure lab, trust its CA and present the admin token), for callers
// that run humcli themselves in node-a's namespace (e.g. on a terminal).
func (l *Lab) HumcliArgv() ([]string, error) {
	host, port, _ := net.SplitHostPort(l.st.APIAddress)
	trust, err := l.humcliTrust()
	if err != nil {
		return nil, err
	}
	return append([]string{l.st.Binaries.Humcli, "--api-server-address", host, "--api-server-port", port}, trust...), nil
}

// HumcliCommand is the shell command a human runs to use humcli against
// the lab (shown by `humlab up`).
func (l *Lab) HumcliCommand() string {
	host, port, _ := net.SplitHostPort(l.st.APIAddress)
	p := fmt.Sprintf("sudo ip netns exec %s %s --api-server-address %s", l.st.Nodes[0].NS, l.st.Binaries.Humcli, host)
	if port != "8080" { // humcli's default
		p += " --api-server-port " + port
	}
	if l.st.Secure {
		p += fmt.Sprintf(" --ca-file %s --token \"$(sudo cat %s)\"", l.CAFile(), l.AdminTokenFile())
	}
	return p
}

// LogPath returns the log file of an agent (by node name) or of the API
// server (name "apiserver").
func (l *Lab) LogPath(name string) string {
	if name == apiserverName {
		return filepath.Join(l.st.Dir, apiserverName, "apiserver.log")
	}
	return filepath.Join(l.st.Dir, name, "agent.log")
}

// LogTail returns the last n lines of an agent's (by node name) or the API
// server's ("apiserver") log.
func (l *Lab) LogTail(name string, n int) string {
	return LastLines(l.LogPath(name), n)
}

// LastLines returns the last n lines of a file, or a note saying why it
// cannot be read.
func LastLines(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
