package doccheck

import (
	"path"
	"regexp"
	"strings"
)

// Mention is a flag as a doc writes it.
type Mention struct {
	File string
	Line int
	// Program is ours that the flag is given to; "" when the doc does not
	// say (a lone `--store etcd`), which any of ours may satisfy.
	Program string
	Sub     string // humcli's subcommand, when named
	// AnySub: a flag table's row, which may be any subcommand's flag.
	// Otherwise a command without a subcommand takes global flags only.
	AnySub bool
	Flag   string // as written, without a value: "--store", "-f"
}

var (
	codeSpan  = regexp.MustCompile("`([^`]+)`")
	flagToken = regexp.MustCompile(`^--?[A-Za-z][A-Za-z0-9_.-]*$`)
	heading   = regexp.MustCompile(`^#{1,6}\s`)
	envAssign = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)
)

// scanner collects the mentions of one file.
type scanner struct {
	file  string
	progs map[string]*Program
	out   []Mention
}

// Mentions returns the flag mentions of one Markdown file (see the
// package doc for what counts).
func Mentions(file, text string, progs []*Program) []Mention {
	s := &scanner{file: file, progs: map[string]*Program{}}
	for _, p := range progs {
		s.progs[p.Name] = p
	}
	lines := strings.Split(text, "\n")
	inFence, skipFence, inFlagTable := false, false, false
	tableProg, headProg := "", ""
	for i := 0; i < len(lines); i++ {
		n, l := i+1, lines[i]
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "```") {
			inFence = !inFence
			info := strings.TrimSpace(strings.TrimPrefix(t, "```"))
			skipFence = inFence && (info == "yaml" || info == "yml" || info == "json" || info == "go")
			continue
		}
		if inFence {
			if skipFence {
				continue
			}
			for strings.HasSuffix(l, "\\") && i+1 < len(lines) { // continued command
				i++
				l = strings.TrimSuffix(l, "\\") + " " + lines[i]
			}
			s.code(n, l)
			continue
		}
		if heading.MatchString(t) {
			headProg = s.named(t)
			continue
		}
		if !strings.HasPrefix(t, "|") {
			inFlagTable = false
		} else {
			cells := strings.Split(strings.Trim(t, "|"), "|")
			first := strings.TrimSpace(cells[0])
			switch {
			case strings.EqualFold(first, "flag"):
				inFlagTable, tableProg = true, headProg
				continue
			case inFlagTable && !strings.HasPrefix(first, "-"):
				for _, m := range codeSpan.FindAllStringSubmatch(first, -1) {
					for _, tok := range strings.Fields(m[1]) {
						s.add(Mention{Line: n, Program: tableProg, AnySub: tableProg != ""}, tok)
					}
				}
				t = strings.Join(cells[1:], "|")
			}
		}
		for _, m := range codeSpan.FindAllStringSubmatch(t, -1) {
			s.code(n, m[1])
		}
	}
	return s.out
}

// named returns the program of ours a heading names as a word, or "".
func (s *scanner) named(h string) string {
	for _, w := range strings.FieldsFunc(h, func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') }) {
		if _, ok := s.progs[w]; ok {
			return w
		}
	}
	return ""
}

// code reads one code span or code-block line: commands of ours, or
// flags standing alone; anything else is another program's business.
func (s *scanner) code(n int, text string) {
	if i := strings.Index(text, " #"); i >= 0 {
		text = text[:i]
	}
	var toks []string
	for _, tok := range strings.Fields(text) {
		if strings.HasPrefix(tok, "-") && strings.Contains(tok, "/-") {
			toks = append(toks, strings.Split(tok, "/")...) // --cert-file/--key-file
			continue
		}
		toks = append(toks, tok)
	}
	if len(toks) > 0 && isFlag(toks[0]) {
		for _, tok := range toks {
			s.add(Mention{Line: n}, tok)
		}
		return
	}
	var seg []string
	for _, tok := range append(toks, "|") {
		switch tok {
		case "|", "||", "&&", ";", ">", "<", "2>", "&":
			s.command(n, seg)
			seg = nil
		default:
			seg = append(seg, tok)
		}
	}
}

// command reads one simple command: its flags if the program is ours.
func (s *scanner) command(n int, toks []string) {
	for len(toks) > 0 && (toks[0] == "$" || toks[0] == "sudo" || toks[0] == "exec") {
		toks = toks[1:]
	}
	for len(toks) > 0 && envAssign.MatchString(toks[0]) {
		rest := envAssign.ReplaceAllString(toks[0], "")
		if _, ok := s.progs[path.Base(rest)]; ok { // ExecStart=/usr/local/bin/agent
			toks[0] = rest
			break
		}
		toks = toks[1:]
	}
	if len(toks) == 0 {
		return
	}
	p, ok := s.progs[path.Base(toks[0])]
	if !ok {
		return
	}
	sub := ""
	for _, tok := range toks[1:] {
		if _, ok := p.Subs[tok]; ok && sub == "" {
			sub = tok
		}
	}
	for _, tok := range toks[1:] {
		if tok == "--" {
			break
		}
		s.add(Mention{Line: n, Program: p.Name, Sub: sub}, tok)
	}
}

// add records m for tok if tok is a flag.
func (s *scanner) add(m Mention, tok string) {
	if f, ok := flagOf(tok); ok {
		m.File, m.Flag = s.file, f
		s.out = append(s.out, m)
	}
}

// flagOf returns the flag a token writes, without punctuation around it
// or a value ("--data-dir=x" is "--data-dir", "-h," is "-h").
func flagOf(tok string) (string, bool) {
	tok = strings.TrimRight(strings.TrimLeft(tok, "(["), ",.;:)]")
	tok, _, _ = strings.Cut(tok, "=")
	return tok, flagToken.MatchString(tok)
}

func isFlag(tok string) bool {
	_, ok := flagOf(tok)
	return ok
}
