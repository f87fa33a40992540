package doccheck

import (
	"regexp"
	"slices"
	"strings"
)

// Flag is one flag of a program: its long name (without dashes) and, for
// cobra programs, its one-letter shorthand ("" when none) and the other
// long spellings its usage names as "(also --x)" (humcli's --group for
// --g: pflag shows one long name a flag, so the alias is in the text).
type Flag struct {
	Long, Short string
	Also        string // aliases, comma-separated, without dashes (comparable)
}

// Program is one of our programs as its --help describes it.
type Program struct {
	Name string
	// GoFlag: parsed with the standard flag package, which takes -name
	// and --name alike and has no shorthands. Otherwise cobra (pflag):
	// --name, or -x for a shorthand.
	GoFlag bool
	Flags  []Flag            // global flags (all of a Go flag program's)
	Subs   map[string][]Flag // cobra subcommands' own flags
}

var (
	goFlagLine    = regexp.MustCompile(`^\s+-([A-Za-z0-9][A-Za-z0-9_.-]*)(\s|$)`)
	cobraFlagLine = regexp.MustCompile(`^\s+(?:-([A-Za-z0-9]), )?--([A-Za-z0-9][A-Za-z0-9_.-]*)(\s|$)`)
	cobraCmdLine  = regexp.MustCompile(`^\s+([a-z][a-z0-9-]*)\s`)
	cobraAlsoRE   = regexp.MustCompile(`\(also ((?:--[A-Za-z0-9][A-Za-z0-9_.-]*(?:, )?)+)\)`)
)

// ParseGoFlagHelp reads the flags of a standard flag package usage text
// ("  -listen-port int\n    \tport to listen on").
func ParseGoFlagHelp(text string) []Flag {
	var fs []Flag
	for _, l := range strings.Split(text, "\n") {
		if m := goFlagLine.FindStringSubmatch(l); m != nil {
			fs = append(fs, Flag{Long: m[1]})
		}
	}
	return fs
}

// ParseCobraHelp reads a cobra help text: the flags of its "Flags:"
// section (own) and of "Global Flags:" (inherited), and the names in
// "Available Commands:".
func ParseCobraHelp(text string) (own, global []Flag, subs []string) {
	section := ""
	for _, l := range strings.Split(text, "\n") {
		if l != "" && l[0] != ' ' {
			section = strings.TrimSpace(l)
			continue
		}
		switch section {
		case "Flags:", "Global Flags:":
			m := cobraFlagLine.FindStringSubmatch(l)
			if m == nil {
				continue
			}
			f := Flag{Long: m[2], Short: m[1], Also: aliases(l)}
			if section == "Flags:" {
				own = append(own, f)
			} else {
				global = append(global, f)
			}
		case "Available Commands:":
			if m := cobraCmdLine.FindStringSubmatch(l); m != nil {
				subs = append(subs, m[1])
			}
		}
	}
	return own, global, subs
}

// aliases reads the "(also --x, --y)" of a cobra flag line.
func aliases(line string) string {
	m := cobraAlsoRE.FindStringSubmatch(line)
	if m == nil {
		return ""
	}
	var out []string
	for _, a := range strings.Split(m[1], ", ") {
		out = append(out, strings.TrimPrefix(a, "--"))
	}
	return strings.Join(out, ",")
}

// match finds the flag a token as written ("--store", "-f", "-config")
// names among fs, for a program of this parsing.
func (p *Program) match(fs []Flag, tok string) (Flag, bool) {
	long, isLong := strings.CutPrefix(tok, "--")
	short := ""
	if !isLong {
		long = strings.TrimPrefix(tok, "-")
		if !p.GoFlag {
			long, short = "", long
		}
	}
	for _, f := range fs {
		if (long != "" && (f.Long == long || (f.Also != "" && slices.Contains(strings.Split(f.Also, ","), long)))) || (short != "" && len(short) == 1 && f.Short == short) {
			return f, true
		}
	}
	return Flag{}, false
}

// lookup finds tok among the flags valid for sub ("" when none named):
// the global ones and sub's own.
func (p *Program) lookup(sub, tok string) (Flag, bool) {
	if f, ok := p.match(p.Flags, tok); ok {
		return f, true
	}
	return p.match(p.Subs[sub], tok)
}

// lookupAny finds tok among every flag of the program, any subcommand's.
func (p *Program) lookupAny(tok string) (Flag, bool) {
	if f, ok := p.match(p.Flags, tok); ok {
		return f, true
	}
	for _, fs := range p.Subs {
		if f, ok := p.match(fs, tok); ok {
			return f, true
		}
	}
	return Flag{}, false
}
