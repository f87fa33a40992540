package debian

import (
	"bufio"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"slices"
	"strings"
)

// Packages are the packages mmdebstrap installs on top of minbase: the
// cloud kernel, systemd as init, Debian's real cloud-init with ifupdown and
// resolvconf as its network renderer (so network-config nameservers land in
// resolv.conf), and an SSH server.
var Packages = []string{
	"linux-image-cloud-amd64", "systemd-sysv", "udev", "cloud-init", "openssh-server",
	"ifupdown", "resolvconf", "iproute2", "netbase", "sudo", "iputils-ping", "ca-certificates",
}

// keyExtras are dependencies whose updates change the guest's behaviour
// enough to rebuild for; their versions join the cache key.
var keyExtras = []string{"systemd", "libc6", "python3"}

// hostTools are the host packages whose files end up in the image (GRUB's
// boot code) or shape it (mmdebstrap, mke2fs).
var hostTools = []string{"grub-pc-bin", "mmdebstrap", "e2fsprogs"}

// recipe is this package's own source: any change to how the image is
// built changes the key, with no version constant to forget to bump.
//
//go:embed *.go files
var recipe embed.FS

// keyInputs are everything the image depends on that can be known without
// building it. The mirror's Release date is deliberately absent: it changes
// daily without the packages changing.
type keyInputs struct {
	Recipe    string            `json:"recipe"`
	Sources   []string          `json:"sources"`
	Packages  []string          `json:"packages"`
	Versions  map[string]string `json:"versions"`  // candidate versions from apt-cache policy
	HostTools map[string]string `json:"hostTools"` // installed versions on the build host
}

// key hashes the inputs into the cache directory's name.
func (in keyInputs) key() string {
	h := sha256.New()
	fmt.Fprintf(h, "recipe %s\n", in.Recipe)
	for _, s := range in.Sources {
		fmt.Fprintf(h, "source %s\n", s)
	}
	for _, p := range in.Packages {
		fmt.Fprintf(h, "package %s\n", p)
	}
	writeMap(h, "version", in.Versions)
	writeMap(h, "tool", in.HostTools)
	return hex.EncodeToString(h.Sum(nil))[:16]
}

func writeMap(h interface{ Write([]byte) (int, error) }, kind string, m map[string]string) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(h, "%s %s %s\n", kind, k, m[k])
	}
}

// recipeHash hashes the build sources in fsys (the embedded recipe),
// leaving out tests: a new test must not force a rebuild.
func recipeHash(fsys fs.FS) (string, error) {
	h := sha256.New()
	err := fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(path, "_test.go") {
			return err
		}
		data, err := fs.ReadFile(fsys, path)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s %d\n", path, len(data))
		h.Write(data)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("hash build recipe: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// gatherKeyInputs collects the key's inputs from the host: apt-cache policy
// reads the host's package lists (which CI refreshes with apt-get update),
// so no network round trip is needed and a cached build stays instant.
func gatherKeyInputs(ctx context.Context, sources []string) (keyInputs, error) {
	rh, err := recipeHash(recipe)
	if err != nil {
		return keyInputs{}, err
	}
	pkgs := append(slices.Clone(Packages), keyExtras...)
	out, err := run(ctx, nil, "apt-cache", append([]string{"policy"}, pkgs...)...)
	if err != nil {
		return keyInputs{}, fmt.Errorf("package versions: %w", err)
	}
	tools, err := run(ctx, nil, "dpkg-query", append([]string{"-W", "-f", "${Package} ${Version}\n"}, hostTools...)...)
	if err != nil {
		return keyInputs{}, fmt.Errorf("host tool versions: %w", err)
	}
	return keyInputs{
		Recipe:    rh,
		Sources:   sources,
		Packages:  Packages,
		Versions:  parsePolicy(string(out)),
		HostTools: parsePairs(string(tools)),
	}, nil
}

// parsePolicy maps each package in apt-cache policy output to its candidate
// version ("(none)" when the host's lists do not know it).
func parsePolicy(text string) map[string]string {
	m := map[string]string{}
	pkg := ""
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		if line != "" && line[0] != ' ' && strings.HasSuffix(line, ":") {
			pkg = strings.TrimSuffix(line, ":")
			continue
		}
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "Candidate:"); ok && pkg != "" {
			m[pkg] = strings.TrimSpace(v)
		}
	}
	return m
}

// parsePairs parses "name version" lines.
func parsePairs(text string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		if name, ver, ok := strings.Cut(strings.TrimSpace(line), " "); ok {
			m[name] = ver
		}
	}
	return m
}
