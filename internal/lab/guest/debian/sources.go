package debian

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Suite is the Debian release the image is built from.
const Suite = "bookworm"

// aptSource is one enabled "deb" entry of the host's apt configuration,
// reduced to what mmdebstrap needs.
type aptSource struct {
	URI        string
	Suites     []string
	Components []string
}

// errNoMirror means the host's apt configuration names no mirror for Suite.
var errNoMirror = errors.New("no enabled deb source for " + Suite + " main")

// mirrorLines finds the mirror of Suite, Suite-updates and Suite-security in
// the host's apt configuration below etcApt (normally /etc/apt) and returns
// them as mmdebstrap source lines. The mirror is the machine's own (a proxy
// or local mirror in CI), never a hard-coded internet host. Updates and
// security are optional: a host without them still gets an image.
func mirrorLines(etcApt string) ([]string, error) {
	srcs, err := readSources(etcApt)
	if err != nil {
		return nil, err
	}
	var lines []string
	for _, suite := range []string{Suite, Suite + "-updates", Suite + "-security"} {
		if uri := findURI(srcs, suite); uri != "" {
			lines = append(lines, fmt.Sprintf("deb %s %s main", uri, suite))
		} else if suite == Suite {
			return nil, fmt.Errorf("%s: %w", etcApt, errNoMirror)
		}
	}
	return lines, nil
}

// findURI returns the URI of the first source carrying suite with main.
func findURI(srcs []aptSource, suite string) string {
	for _, s := range srcs {
		if slices.Contains(s.Suites, suite) && slices.Contains(s.Components, "main") {
			return strings.TrimSuffix(s.URI, "/")
		}
	}
	return ""
}

// readSources reads sources.list and sources.list.d/*.list (one-line
// format) and sources.list.d/*.sources (deb822), in apt's order. Files with
// other extensions are ignored, as apt ignores them.
func readSources(etcApt string) ([]aptSource, error) {
	files := []string{filepath.Join(etcApt, "sources.list")}
	for _, pat := range []string{"*.list", "*.sources"} {
		m, err := filepath.Glob(filepath.Join(etcApt, "sources.list.d", pat))
		if err != nil {
			return nil, fmt.Errorf("list apt sources: %w", err)
		}
		files = append(files, m...)
	}
	var all []aptSource
	for _, f := range files {
		data, err := os.ReadFile(f)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read apt sources: %w", err)
		}
		if strings.HasSuffix(f, ".sources") {
			all = append(all, parseDeb822(string(data))...)
		} else {
			all = append(all, parseOneLine(string(data))...)
		}
	}
	return all, nil
}

// parseOneLine parses "deb [options] uri suite component..." lines.
func parseOneLine(text string) []aptSource {
	var out []aptSource
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(line)
		if len(fields) == 0 || fields[0] != "deb" {
			continue
		}
		fields = fields[1:]
		if len(fields) > 0 && strings.HasPrefix(fields[0], "[") {
			// Options may contain spaces: skip to the field closing them.
			for len(fields) > 0 && !strings.HasSuffix(fields[0], "]") {
				fields = fields[1:]
			}
			if len(fields) > 0 {
				fields = fields[1:]
			}
		}
		if len(fields) < 3 {
			continue
		}
		out = append(out, aptSource{URI: fields[0], Suites: fields[1:2], Components: fields[2:]})
	}
	return out
}

// parseDeb822 parses deb822 stanzas (blank-line separated "Key: value"
// fields), honouring "Types" and "Enabled: no".
func parseDeb822(text string) []aptSource {
	var out []aptSource
	for _, stanza := range splitStanzas(text) {
		if !slices.Contains(strings.Fields(stanza["types"]), "deb") || strings.EqualFold(stanza["enabled"], "no") {
			continue
		}
		for _, uri := range strings.Fields(stanza["uris"]) {
			out = append(out, aptSource{
				URI:        uri,
				Suites:     strings.Fields(stanza["suites"]),
				Components: strings.Fields(stanza["components"]),
			})
		}
	}
	return out
}

// splitStanzas returns each stanza as lower-cased field names to values;
// continuation lines (starting with a space) extend the previous field.
func splitStanzas(text string) []map[string]string {
	var out []map[string]string
	cur, last := map[string]string{}, ""
	flush := func() {
		if len(cur) > 0 {
			out = append(out, cur)
		}
		cur, last = map[string]string{}, ""
	}
	for _, line := range strings.Split(text, "\n") {
		switch {
		case strings.HasPrefix(line, "#"):
		case strings.TrimSpace(line) == "":
			flush()
		case line[0] == ' ' || line[0] == '\t':
			if last != "" {
				cur[last] += " " + strings.TrimSpace(line)
			}
		default:
			k, v, ok := strings.Cut(line, ":")
			if ok {
				last = strings.ToLower(strings.TrimSpace(k))
				cur[last] = strings.TrimSpace(v)
			}
		}
	}
	flush()
	return out
}
