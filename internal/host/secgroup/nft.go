package secgroup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/humstack/humstack/internal/host/netns"
)

// BridgeNFCallIPTables is the sysctl that sends bridged IPv4 through the ip
// hooks (br_netfilter), without which no bridged frame has a connection
// state. It is per network namespace.
const BridgeNFCallIPTables = "/proc/sys/net/bridge/bridge-nf-call-iptables"

// Runner installs rulesets with the nft command, in Netns (a named network
// namespace, for tests) or, when that is empty, in the caller's own.
type Runner struct {
	Netns string
}

// Apply replaces both tables with ruleset (Render's output) in one
// transaction; "" removes them. Other tables are never touched.
func (r Runner) Apply(ctx context.Context, ruleset string) error {
	if err := r.nft(ctx, Prelude()+ruleset, "-f", "-"); err != nil {
		return fmt.Errorf("install nft tables %s: %w", Table, err)
	}
	return nil
}

// Installed reports whether both tables exist (the output of a lone
// Apply("") is false).
func (r Runner) Installed(ctx context.Context) (bool, error) {
	out, err := r.output(ctx, "list", "tables")
	if err != nil {
		return false, fmt.Errorf("list nft tables: %w", err)
	}
	lines := strings.Split(out, "\n")
	has := func(family string) bool { return containsLine(lines, "table "+family+" "+Table) }
	return has("ip") && has("bridge"), nil
}

func containsLine(lines []string, want string) bool {
	for _, l := range lines {
		if strings.TrimSpace(l) == want {
			return true
		}
	}
	return false
}

// List returns both tables as nft prints them ("" for a missing one).
func (r Runner) List(ctx context.Context) (string, error) {
	var b strings.Builder
	for _, family := range []string{"ip", "bridge"} {
		out, err := r.output(ctx, "list", "table", family, Table)
		if err != nil && !strings.Contains(err.Error(), "No such file or directory") {
			return "", fmt.Errorf("list nft table %s %s: %w", family, Table, err)
		}
		b.WriteString(out)
	}
	return b.String(), nil
}

func (r Runner) nft(ctx context.Context, stdin string, args ...string) error {
	cmd := r.command(ctx, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("nft %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

func (r Runner) output(ctx context.Context, args ...string) (string, error) {
	cmd := r.command(ctx, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("nft %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

func (r Runner) command(ctx context.Context, args ...string) *exec.Cmd {
	if r.Netns == "" {
		return exec.CommandContext(ctx, "nft", args...)
	}
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", r.Netns, "nft"}, args...)...)
}

// EnableBridgeNetfilter sets net.bridge.bridge-nf-call-iptables to 1 in the
// runner's namespace (a no-op when it is 1). Without it the groups' rules
// would see no connection state and drop every reply.
func (r Runner) EnableBridgeNetfilter() error {
	err := r.do(func() error {
		b, err := os.ReadFile(BridgeNFCallIPTables)
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%s is missing: the kernel has no br_netfilter (modprobe br_netfilter, or build it in)", BridgeNFCallIPTables)
		}
		if err != nil {
			return err
		}
		if strings.TrimSpace(string(b)) == "1" {
			return nil
		}
		return os.WriteFile(BridgeNFCallIPTables, []byte("1\n"), 0o644)
	})
	if err != nil {
		return fmt.Errorf("security groups need bridged IPv4 to pass conntrack: enable net.bridge.bridge-nf-call-iptables: %w", err)
	}
	return nil
}

// BridgeNetfilter reports the sysctl's value in the runner's namespace.
func (r Runner) BridgeNetfilter() (bool, error) {
	var on bool
	err := r.do(func() error {
		b, err := os.ReadFile(BridgeNFCallIPTables)
		on = strings.TrimSpace(string(b)) == "1"
		return err
	})
	return on, err
}

// do runs f in the runner's namespace: /proc/sys/net is the namespace of
// the thread that opens it.
func (r Runner) do(f func() error) error {
	if r.Netns == "" {
		return f()
	}
	return netns.Do(r.Netns, f)
}
