package doccheck

import (
	"slices"
	"strings"
	"testing"
)

const goHelp = `Usage of server:
  -data-dir string
    	directory of the store (default "./db")
  -listen-port int
    	port to listen on (default 8080)
  -v	verbose
`

const cobraRoot = `tool cli

Usage:
  tool [command]

Available Commands:
  get         List objects
  help        Help about any command

Flags:
      --g string   group id (also --group) (default "default")
  -h, --help       help for tool
`

const cobraGet = `List objects

Usage:
  tool get KIND [flags]

Flags:
  -A, --all-namespaces   across all namespaces
  -h, --help             help for get
  -o, --output string    output format (default "table")

Global Flags:
      --g string   group id (default "default")
`

func synthetic(t *testing.T) []*Program {
	server := &Program{Name: "server", GoFlag: true, Flags: ParseGoFlagHelp(goHelp)}
	if want := []Flag{{Long: "data-dir"}, {Long: "listen-port"}, {Long: "v"}}; !slices.Equal(server.Flags, want) {
		t.Fatalf("ParseGoFlagHelp = %v, want %v", server.Flags, want)
	}
	global, _, subs := ParseCobraHelp(cobraRoot)
	if !slices.Equal(subs, []string{"get", "help"}) || !slices.Equal(global, []Flag{{Long: "g", Also: "group"}, {Long: "help", Short: "h"}}) {
		t.Fatalf("ParseCobraHelp(root) = %v, %v", global, subs)
	}
	own, inherited, _ := ParseCobraHelp(cobraGet)
	if !slices.Equal(inherited, []Flag{{Long: "g"}}) || len(own) != 3 || own[2] != (Flag{Long: "output", Short: "o"}) {
		t.Fatalf("ParseCobraHelp(get) = %v, %v", own, inherited)
	}
	return []*Program{server, {Name: "tool", Flags: global, Subs: map[string][]Flag{"get": own}}}
}

// goodDoc documents every flag, in each of the forms the checker reads.
const goodDoc = "# Title\n\n## server\n\n" +
	"| flag | default | meaning |\n|---|---|---|\n" +
	"| `--data-dir` | `./db` | where it lives |\n" +
	"| `-listen-port` | `8080` | port |\n\n" +
	"Run it:\n\n```sh\nsudo PORT=1 ./bin/server -v \\\n  --data-dir=/x | tee log   # comment --nope\n```\n\n" +
	"Then `tool --g g1 get vm -A -o yaml`, or `--output json` alone, or `tool --group g1 get vm`.\n" +
	"Other programs keep their flags: `qemu-system-x86_64 -accel tcg`, `ip -n ns link`.\n\n" +
	"```yaml\n- --ignored-in-yaml\n```\n"

// TestCheckAgrees: a doc that documents every flag of the synthetic
// programs, in every form the checker reads, passes, and the mentions are
// the expected ones (yaml blocks, prose cells, comments and other
// programs' flags are not read).
func TestCheckAgrees(t *testing.T) {
	progs := synthetic(t)
	ms := Mentions("good.md", goodDoc, progs)
	if errs := Check(progs, ms); len(errs) > 0 {
		t.Fatalf("Check = %v\nmentions %+v", errs, ms)
	}
	var got []string
	for _, m := range ms {
		got = append(got, m.Program+" "+m.Sub+" "+m.Flag)
	}
	want := []string{"server  --data-dir", "server  -listen-port", "server  -v", "server  --data-dir",
		"tool get --g", "tool get -A", "tool get -o", "  --output", "tool get --group"}
	if !slices.Equal(got, want) {
		t.Errorf("mentions\n%q\nwant\n%q", got, want)
	}
}

// TestCheckFails: each drift between a synthetic help and doc is found,
// naming file and line.
func TestCheckFails(t *testing.T) {
	progs := synthetic(t)
	for _, c := range []struct{ name, doc, want string }{
		{"flag missing from the docs", strings.Replace(goodDoc, "`-listen-port`", "`--data-dir`", 1),
			"server --listen-port (printed by its --help) is documented nowhere"},
		{"subcommand flag missing", strings.Replace(goodDoc, "-A -o yaml", "-o yaml", 1),
			"tool --all-namespaces (printed by its --help) is documented nowhere"},
		{"table row of a flag that is gone", strings.Replace(goodDoc, "| `-listen-port` |", "| `-listen-port`, `--store` |", 1),
			"good.md:8: --store: server has no such flag"},
		{"command flag that is gone", strings.Replace(goodDoc, "./bin/server -v", "./bin/server -v --store etcd", 1),
			"good.md:13: --store: server has no such flag"},
		{"flag of the wrong subcommand", strings.Replace(goodDoc, "get vm -A", "get vm -A -w", 1),
			"good.md:17: -w: tool get has no such flag"},
		{"subcommand flag without the subcommand", strings.Replace(goodDoc, "or `--output json` alone", "or `tool -o json`", 1),
			"good.md:17: -o: tool has no such flag"},
		{"cobra shorthands do not stack", strings.Replace(goodDoc, "-A -o yaml", "-Ao yaml", 1),
			"good.md:17: -Ao: tool get has no such flag"},
		{"Go flags have no shorthands", strings.Replace(goodDoc, "./bin/server -v", "./bin/server -d", 1),
			"good.md:13: -d: server has no such flag"},
		{"lone flag nobody has", strings.Replace(goodDoc, "`--output json`", "`--outptu json`", 1),
			"good.md:17: --outptu: none of our programs has this flag"},
		{"alias the help does not print", strings.Replace(goodDoc, "`tool --group g1 get vm`", "`tool --grp g1 get vm`", 1),
			"good.md:17: --grp: tool get has no such flag"},
		{"slash-joined flags", strings.Replace(goodDoc, "`--output json`", "`--output/--colour`", 1),
			"good.md:17: --colour: none of our programs has this flag"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			for _, err := range Check(progs, Mentions("good.md", c.doc, progs)) {
				got = append(got, err.Error())
			}
			if !slices.Contains(got, c.want) {
				t.Fatalf("Check = %q, want %q among them", got, c.want)
			}
		})
	}
}
