package registry

import (
	"encoding/base64"
	"maps"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/humstack/humstack/api"
)

// Field checks shared by the kinds. Each records at most one error for its
// field and reports whether the value was good, so callers can skip checks
// that depend on it (limit >= request needs both sizes parsed).

const idRule = "want lowercase letters, digits and '-', 1-63 characters, starting and ending with a letter or digit"

// requireID checks a mandatory object, group, namespace or node id.
func requireID(fe *api.FieldErrors, field, v string) bool {
	if v == "" {
		fe.Add(field, "required")
		return false
	}
	return checkID(fe, field, v)
}

// optionalID checks an id that may be left out: a node annotation, which
// the scheduler writes when a user leaves it out.
func optionalID(fe *api.FieldErrors, field, v string) {
	if v != "" {
		checkID(fe, field, v)
	}
}

// checkID checks an id that is present (possibly empty, which is invalid).
func checkID(fe *api.FieldErrors, field, v string) bool {
	if !api.IsID(v) {
		fe.Add(field, "%s is not a valid id: %s", quote(v), idRule)
		return false
	}
	return true
}

// requireIPv4 checks a mandatory dotted-quad address.
func requireIPv4(fe *api.FieldErrors, field, v string) (netip.Addr, bool) {
	if v == "" {
		fe.Add(field, "required")
		return netip.Addr{}, false
	}
	a, ok := api.ParseIPv4(v)
	if !ok {
		fe.Add(field, "%s is not an IPv4 address", quote(v))
	}
	return a, ok
}

// optionalIPv4 is requireIPv4 for a field that may be left empty; ok is
// false when it is empty or bad.
func optionalIPv4(fe *api.FieldErrors, field, v string) (netip.Addr, bool) {
	if v == "" {
		return netip.Addr{}, false
	}
	return requireIPv4(fe, field, v)
}

// requireIPv4Network checks a mandatory CIDR naming a network, with no host
// bits: "10.0.0.1/24" is almost always a typo for an address, not a network.
func requireIPv4Network(fe *api.FieldErrors, field, v string) (netip.Prefix, bool) {
	if v == "" {
		fe.Add(field, "required")
		return netip.Prefix{}, false
	}
	p, ok := api.ParseIPv4Network(v)
	if !ok {
		fe.Add(field, "%s is not an IPv4 network in CIDR form without host bits (e.g. 10.0.0.0/24)", quote(v))
	}
	return p, ok
}

// requireIPv4Prefix checks a mandatory interface address in CIDR form.
func requireIPv4Prefix(fe *api.FieldErrors, field, v string) (netip.Prefix, bool) {
	if v == "" {
		fe.Add(field, "required")
		return netip.Prefix{}, false
	}
	p, ok := api.ParseIPv4Prefix(v)
	if !ok {
		fe.Add(field, "%s is not an IPv4 address in CIDR form (e.g. 10.0.0.254/24)", quote(v))
	}
	return p, ok
}

// requireSize checks a mandatory byte size such as "10G".
func requireSize(fe *api.FieldErrors, field, v string) (int64, bool) {
	if v == "" {
		fe.Add(field, "required")
		return 0, false
	}
	n, err := api.ParseSize(v)
	if err != nil {
		fe.Add(field, "%v", err)
		return 0, false
	}
	return n, true
}

// requireCPU checks a mandatory CPU quantity such as "1000m".
func requireCPU(fe *api.FieldErrors, field, v string) (int64, bool) {
	if v == "" {
		fe.Add(field, "required")
		return 0, false
	}
	n, err := api.ParseCPU(v)
	if err != nil {
		fe.Add(field, "%v", err)
		return 0, false
	}
	return n, true
}

// checkLimit records limit < request on the limit's field, the one a user
// raises to fix it.
func checkLimit(fe *api.FieldErrors, field string, request, limit int64, requestField string) {
	if limit < request {
		fe.Add(field, "must be at least %s", requestField)
	}
}

// checkOneOf checks an enumerated value; "" is not allowed unless listed.
func checkOneOf(fe *api.FieldErrors, field, v string, allowed ...string) bool {
	if slices.Contains(allowed, v) {
		return true
	}
	if v == "" {
		fe.Add(field, "required: one of %s", strings.Join(allowed, ", "))
	} else {
		fe.Add(field, "%s is not one of %s", quote(v), strings.Join(allowed, ", "))
	}
	return false
}

// ifnameRe is stricter than the kernel (which takes any byte but '/', ':'
// and whitespace): interface names reach nft rules and command lines, and
// every real bridge name (br0, exBr, vmbr-ext, eth0.100) fits.
var ifnameRe = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,15}$`)

// checkIfName checks a Linux network interface name.
func checkIfName(fe *api.FieldErrors, field, v string) bool {
	switch {
	case v == "":
		fe.Add(field, "required")
	case v == "." || v == ".." || !ifnameRe.MatchString(v):
		fe.Add(field, "%s is not a valid interface name: want 1-15 letters, digits, '-', '_' or '.'", quote(v))
	default:
		return true
	}
	return false
}

// checkDecimal checks a decimal number in [min, max] written canonically
// (no sign, no leading zeros), since it becomes a VNI or VLAN id on a
// command line and two spellings of one id must not look different.
func checkDecimal(fe *api.FieldErrors, field, v string, min, max uint64) bool {
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil || strconv.FormatUint(n, 10) != v || n < min || n > max {
		fe.Add(field, "%s is not a decimal number in %d..%d", quote(v), min, max)
		return false
	}
	return true
}

// checkHTTPURL checks an absolute http or https URL with a host.
func checkHTTPURL(fe *api.FieldErrors, field, v string) bool {
	if v == "" {
		fe.Add(field, "required")
		return false
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Hostname() == "" ||
		strings.ContainsFunc(v, unicode.IsSpace) {
		fe.Add(field, "%s is not an absolute http or https URL with a host", quote(v))
		return false
	}
	return true
}

var (
	hostLabelRe = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)
	userRe      = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`)
)

// isHostname reports whether s is an RFC 1123 host name.
func isHostname(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for l := range strings.SplitSeq(s, ".") {
		if !hostLabelRe.MatchString(l) {
			return false
		}
	}
	return true
}

// isUsername reports whether s is a portable Linux user name (useradd's
// default NAME_REGEX, without the trailing '$' of machine accounts).
func isUsername(s string) bool { return userRe.MatchString(s) }

// sshKeyTypes are the public key algorithms OpenSSH accepts in authorized_keys.
var sshKeyTypes = []string{
	"ssh-rsa", "ssh-ed25519",
	"ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
	"sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com",
}

// checkSSHKey checks one authorized_keys line: "TYPE BASE64 [comment]". It
// goes verbatim into cloud-init user-data, so it must be a single line of
// printable text.
func checkSSHKey(fe *api.FieldErrors, field, v string) bool {
	if !isLine(v) {
		fe.Add(field, "must be a single line of text without control characters")
		return false
	}
	parts := strings.Fields(v)
	switch {
	case len(parts) < 2 || !slices.Contains(sshKeyTypes, parts[0]):
		fe.Add(field, "must start with a key type (%s) followed by the base64 key", strings.Join(sshKeyTypes, ", "))
	case !isBase64(parts[1]):
		fe.Add(field, "the key after %s is not valid base64", parts[0])
	default:
		return true
	}
	return false
}

func isBase64(s string) bool {
	b, err := base64.StdEncoding.DecodeString(s)
	return err == nil && len(b) > 0
}

// isLine reports whether s is valid UTF-8 text on one line: no control
// characters (which include CR and LF) and no Unicode line or paragraph
// separators. Any other character, such as an ideographic space in a
// Japanese name, is fine.
func isLine(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsFunc(s, func(r rune) bool {
		return unicode.IsControl(r) || r == '\u2028' || r == '\u2029'
	})
}

// isPrintable reports whether s is valid UTF-8 without control or other
// non-printing characters (spaces are allowed).
func isPrintable(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsFunc(s, func(r rune) bool { return !unicode.IsPrint(r) })
}

// isToken is isPrintable without whitespace: for keys and names that end up
// in selectors and lists where a blank would be ambiguous.
func isToken(s string) bool {
	return isPrintable(s) && !strings.ContainsFunc(s, unicode.IsSpace)
}

// noDuplicate records the second and later occurrences of a value.
type noDuplicate map[string]bool

func (seen noDuplicate) check(fe *api.FieldErrors, field, v string) {
	if seen[v] {
		fe.Add(field, "duplicate %s", quote(v))
	}
	seen[v] = true
}

// quote renders a user value for a message, cut short so an error about a
// megabyte of garbage stays readable.
func quote(s string) string {
	const max = 64
	if len(s) > max {
		i := max
		for i > 0 && !utf8.RuneStart(s[i]) {
			i--
		}
		return strconv.Quote(s[:i]) + "..."
	}
	return strconv.Quote(s)
}

// sortedKeys orders map keys so one object always yields the same errors in
// the same order.
func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }

// indexField is field[i].
func indexField(field string, i int) string { return field + "[" + strconv.Itoa(i) + "]" }

// keyField is field[key]; keys that could garble the path are quoted.
func keyField(field, key string) string {
	if key == "" || !isToken(key) || strings.ContainsAny(key, "[]") {
		key = quote(key)
	}
	return field + "[" + key + "]"
}

// annotationField is the path of an annotation, e.g. meta.annotations[networkv0/network_type].
func annotationField(key string) string { return keyField("meta.annotations", key) }
