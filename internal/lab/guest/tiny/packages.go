package tiny

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// The Debian packages inside the image. The kernel is the one the cloud
// metapackage points at; dropbear's libraries are listed rather than
// resolved from Depends, which would drag in libc6's own dependencies —
// the ELF walk (libs.go) checks that nothing is missing.
const kernelMeta = "linux-image-cloud-amd64"

var userland = []string{"busybox-static", "dropbear-bin",
	"libtomcrypt1", "libtommath1", "libgmp10", "zlib1g", "libcrypt1", "libc6"}

// pkg is one pinned package.
type pkg struct{ Name, Version string }

// resolvePackages asks apt for the candidate version of every package:
// `apt-cache show --no-all-versions`, no root needed. The host's package
// lists decide, so CI runs apt-get update first.
func resolvePackages(ctx context.Context) ([]pkg, error) {
	out, err := run(ctx, "", "apt-cache", append([]string{"show", "--no-all-versions", kernelMeta}, userland...)...)
	if err != nil {
		return nil, err
	}
	st := parseStanzas(out)
	kernel, kver := pinnedDep(st[kernelMeta].depends, "linux-image-")
	if kernel == "" || kver == "" {
		return nil, fmt.Errorf("apt: %s does not pin a linux-image package (Depends: %s)", kernelMeta, st[kernelMeta].depends)
	}
	pkgs := []pkg{{kernel, kver}}
	for _, n := range userland {
		if st[n].version == "" {
			return nil, fmt.Errorf("apt: no candidate for %s (apt-get update?)", n)
		}
		pkgs = append(pkgs, pkg{n, st[n].version})
	}
	return pkgs, nil
}

type stanza struct{ version, depends string }

// parseStanzas reads Package/Version/Depends from apt-cache show output.
func parseStanzas(out []byte) map[string]stanza {
	m := map[string]stanza{}
	for _, block := range strings.Split(string(out), "\n\n") {
		var name string
		var s stanza
		for _, line := range strings.Split(block, "\n") {
			k, v, _ := strings.Cut(line, ": ")
			switch k {
			case "Package":
				name = v
			case "Version":
				s.version = v
			case "Depends":
				s.depends = v
			}
		}
		if _, seen := m[name]; name != "" && !seen {
			m[name] = s
		}
	}
	return m
}

// pinnedDep finds "name (= version)" in a Depends field for a name with
// the given prefix.
func pinnedDep(depends, prefix string) (name, version string) {
	for _, d := range strings.Split(depends, ",") {
		d = strings.TrimSpace(d)
		n, rest, _ := strings.Cut(d, " ")
		if !strings.HasPrefix(n, prefix) {
			continue
		}
		if v, ok := strings.CutPrefix(strings.TrimSpace(rest), "(= "); ok {
			return n, strings.TrimSuffix(v, ")")
		}
	}
	return "", ""
}

// debPath is where a package's .deb is kept in the download cache.
func debPath(debs string, p pkg) string {
	return filepath.Join(debs, p.Name+"_"+p.Version+".deb")
}

// download fetches the packages missing from debs with one
// `apt-get download name=version ...` and files them by name and version.
func download(ctx context.Context, debs string, pkgs []pkg) error {
	var want []string
	for _, p := range pkgs {
		if _, err := os.Stat(debPath(debs, p)); err != nil {
			want = append(want, p.Name+"="+p.Version)
		}
	}
	if len(want) == 0 {
		return nil
	}
	tmp, err := os.MkdirTemp(debs, ".dl-")
	if err != nil {
		return fmt.Errorf("download: %w", err)
	}
	defer os.RemoveAll(tmp)
	if _, err := run(ctx, tmp, "apt-get", append([]string{"download", "-q"}, want...)...); err != nil {
		return err
	}
	for _, p := range pkgs {
		m, _ := filepath.Glob(filepath.Join(tmp, p.Name+"_*.deb"))
		if len(m) == 1 {
			if err := os.Rename(m[0], debPath(debs, p)); err != nil {
				return fmt.Errorf("download: %w", err)
			}
		}
	}
	return nil
}

// run runs a command and returns its stdout; errors carry its stderr.
func run(ctx context.Context, dir, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	return stdout.Bytes(), nil
}

func commandWithStdin(ctx context.Context, stdin io.Reader, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = stdin
	return cmd
}
