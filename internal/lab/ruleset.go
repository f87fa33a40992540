package lab

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
)

// counters matches the values nft prints for counters and quotas, which
// change with traffic and are not what leaks.
var counters = regexp.MustCompile(`\b(packets|bytes) \d+`)

// Ruleset returns `nft list ruleset` in namespace ns ("" for the host's
// own), normalized for comparing before with after: counter values are
// blanked and blank lines dropped. An empty table or chain left behind
// shows, which is the point: leak checks compare whole rulesets, not
// just the rules.
func Ruleset(ctx context.Context, ns string) (string, error) {
	var out string
	var err error
	if ns == "" {
		var b []byte
		b, err = exec.CommandContext(ctx, "nft", "list", "ruleset").Output()
		out = string(b)
	} else {
		out, err = Exec(ctx, ns, "nft", "list", "ruleset")
	}
	if err != nil {
		return "", fmt.Errorf("nft list ruleset in %q: %w", ns, err)
	}
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if l = strings.TrimRight(l, " \t"); l != "" {
			lines = append(lines, counters.ReplaceAllString(l, "$1 N"))
		}
	}
	return strings.Join(lines, "\n"), nil
}

// Rulesets returns Ruleset of every node of the lab, by node name.
func (l *Lab) Rulesets(ctx context.Context) (map[string]string, error) {
	out := map[string]string{}
	for _, n := range l.Nodes() {
		r, err := Ruleset(ctx, n.NS)
		if err != nil {
			return nil, fmt.Errorf("node %s: %w", n.Name, err)
		}
		out[n.Name] = r
	}
	return out, nil
}
