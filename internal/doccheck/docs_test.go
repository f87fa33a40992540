package doccheck

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// repoRoot is the module root, two levels up from this package.
const repoRoot = "../.."

// build compiles our programs into a temporary directory.
func build(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-o", dir, "./cmd/apiserver", "./cmd/agent", "./cmd/humcli")
	cmd.Dir = repoRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return dir
}

// help runs bin with args and returns what it printed (the flag package
// prints usage to stderr, cobra to stdout).
func help(t *testing.T, bin string, args ...string) string {
	t.Helper()
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", bin, args, err, out)
	}
	return string(out)
}

// programs reads our programs' flags from their real --help.
func programs(t *testing.T) []*Program {
	dir := build(t)
	var progs []*Program
	for _, name := range []string{"apiserver", "agent"} {
		p := &Program{Name: name, GoFlag: true, Flags: ParseGoFlagHelp(help(t, filepath.Join(dir, name), "--help"))}
		if len(p.Flags) == 0 {
			t.Fatalf("%s --help printed no flags", name)
		}
		progs = append(progs, p)
	}
	humcli := filepath.Join(dir, "humcli")
	global, _, subs := ParseCobraHelp(help(t, humcli, "--help")) // the root's own flags are everyone's
	p := &Program{Name: "humcli", Flags: global, Subs: map[string][]Flag{}}
	for _, sub := range subs {
		if sub == "help" || sub == "completion" {
			continue
		}
		own, _, nested := ParseCobraHelp(help(t, humcli, sub, "--help"))
		// A command group's commands (config set-context, node
		// join-token) count as the group's: the docs name the group.
		for _, n := range nested {
			if n != "help" {
				more, _, _ := ParseCobraHelp(help(t, humcli, sub, n, "--help"))
				own = append(own, more...)
			}
		}
		p.Subs[sub] = own
	}
	if len(global) == 0 || len(p.Subs) == 0 {
		t.Fatalf("humcli --help: no flags or no subcommands found")
	}
	return append(progs, p)
}

// TestDocsMatchFlags: every flag apiserver, agent and humcli (and its
// subcommands) print in --help is documented in README.md, DEVELOPERS.md
// or docs/*.md, and every flag those pages give to our programs exists.
func TestDocsMatchFlags(t *testing.T) {
	progs := programs(t)
	files, err := filepath.Glob(filepath.Join(repoRoot, "docs", "*.md"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no docs/*.md: %v", err)
	}
	files = append(files, filepath.Join(repoRoot, "README.md"), filepath.Join(repoRoot, "DEVELOPERS.md"))
	var mentions []Mention
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(repoRoot, f)
		mentions = append(mentions, Mentions(rel, string(b), progs)...)
	}
	if len(mentions) < 30 {
		t.Fatalf("only %d flag mentions in the docs: the parser lost them", len(mentions))
	}
	var msgs []string
	for _, err := range Check(progs, mentions) {
		msgs = append(msgs, err.Error())
	}
	if len(msgs) > 0 {
		t.Fatalf("docs and flags disagree:\n%s", strings.Join(msgs, "\n"))
	}
	t.Logf("%d flag mentions in %d pages agree with the flags of %d programs", len(mentions), len(files), len(progs))
}
