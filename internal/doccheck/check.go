package doccheck

import (
	"fmt"
	"sort"
)

// Check returns every disagreement between the programs' flags and the
// docs' mentions: a mention that no flag it could mean answers to, and a
// flag (but -h/--help) that no mention documents.
func Check(progs []*Program, mentions []Mention) []error {
	var errs []error
	documented := map[string]map[Flag]bool{}
	for _, p := range progs {
		documented[p.Name] = map[Flag]bool{}
	}
	for _, m := range mentions {
		found := false
		for _, p := range progs {
			if m.Program != "" && m.Program != p.Name {
				continue
			}
			var f Flag
			var ok bool
			if m.Program == "" || m.AnySub {
				f, ok = p.lookupAny(m.Flag)
			} else {
				f, ok = p.lookup(m.Sub, m.Flag)
			}
			if ok {
				documented[p.Name][f] = true
				found = true
			}
		}
		if !found {
			errs = append(errs, fmt.Errorf("%s:%d: %s: %s", m.File, m.Line, m.Flag, missing(m)))
		}
	}
	for _, p := range progs {
		for _, f := range allFlags(p) {
			if f.Long != "help" && !documented[p.Name][f] {
				errs = append(errs, fmt.Errorf("%s --%s (printed by its --help) is documented nowhere", p.Name, f.Long))
			}
		}
	}
	return errs
}

// missing says which program lacks the flag a mention names.
func missing(m Mention) string {
	switch {
	case m.Program == "":
		return "none of our programs has this flag"
	case m.Sub != "":
		return fmt.Sprintf("%s %s has no such flag", m.Program, m.Sub)
	}
	return fmt.Sprintf("%s has no such flag", m.Program)
}

// allFlags lists p's flags, subcommands' included, each once, in a fixed
// order.
func allFlags(p *Program) []Flag {
	seen := map[Flag]bool{}
	var out []Flag
	add := func(fs []Flag) {
		for _, f := range fs {
			if !seen[f] {
				seen[f] = true
				out = append(out, f)
			}
		}
	}
	add(p.Flags)
	subs := make([]string, 0, len(p.Subs))
	for s := range p.Subs {
		subs = append(subs, s)
	}
	sort.Strings(subs)
	for _, s := range subs {
		add(p.Subs[s])
	}
	return out
}
