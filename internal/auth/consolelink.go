package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/humstack/humstack/api"
)

// Console links. A link's token is
//
//	GROUP.NAMESPACE.LINKID.MAC
//
// where MAC is the first 16 bytes of HMAC-SHA256, under the cluster's
// console-link key, of the link's scoped id, its uid, its VM, its expiry
// and its grants when set (linkMAC), base64url without padding. IDs are DNS labels, so the dots are
// unambiguous. The token carries no rights of its own: the authenticator
// reads the link object it names, so deleting the link revokes the token at
// once, and a link made again under the same id has a new uid and so a new
// MAC, which the old token does not match.
//
// The token travels in the query (?link=TOKEN), not in a header: a browser
// cannot set headers on a websocket, and a console link is meant for people
// with a browser-based console (noVNC) or a plain websocket client. The API
// server never logs queries (its request log and the audit log keep the
// path only).

// ConsoleLinkVia is Identity.Via for console links.
const ConsoleLinkVia = "consolelink"

// ConsoleLinkParam is the query parameter carrying the token.
const ConsoleLinkParam = "link"

// macLen is the number of HMAC bytes in a token: 128 bits.
const macLen = 16

// maxTokenLen bounds what the parser looks at: three DNS labels, a MAC.
const maxTokenLen = 3*63 + 3 + 22

// ConsoleLinkToken is a parsed token.
type ConsoleLinkToken struct {
	Group, Namespace, ID string
	MAC                  []byte
}

// ParseConsoleLinkToken splits a token; a malformed one wraps
// api.ErrUnauthorized.
func ParseConsoleLinkToken(s string) (ConsoleLinkToken, error) {
	var t ConsoleLinkToken
	bad := func(why string) (ConsoleLinkToken, error) {
		return ConsoleLinkToken{}, fmt.Errorf("malformed console link token (%s): %w", why, api.ErrUnauthorized)
	}
	if len(s) > maxTokenLen {
		return bad("too long")
	}
	parts := strings.Split(s, ".")
	if len(parts) != 4 {
		return bad("want GROUP.NAMESPACE.LINK.MAC")
	}
	for _, p := range parts[:3] {
		if !api.IsID(p) {
			return bad("bad id")
		}
	}
	// The decoder skips \r and \n; a token has exactly one spelling.
	if len(parts[3]) != base64.RawURLEncoding.EncodedLen(macLen) || strings.ContainsAny(parts[3], "\r\n") {
		return bad("bad signature encoding")
	}
	mac, err := base64.RawURLEncoding.Strict().DecodeString(parts[3])
	if err != nil || len(mac) != macLen {
		return bad("bad signature encoding")
	}
	t.Group, t.Namespace, t.ID, t.MAC = parts[0], parts[1], parts[2], mac
	return t, nil
}

// String formats the token.
func (t ConsoleLinkToken) String() string {
	return t.Group + "." + t.Namespace + "." + t.ID + "." + base64.RawURLEncoding.EncodeToString(t.MAC)
}

// SignConsoleLink returns the token of link l under key.
func SignConsoleLink(key []byte, l *api.ConsoleLink) string {
	return ConsoleLinkToken{Group: l.Meta.Group, Namespace: l.Meta.Namespace, ID: l.Meta.ID, MAC: linkMAC(key, l)}.String()
}

// linkMAC signs a link. The grants added after the first version
// (allVirtualMachines, power) go in only when set, after a version
// marker, so that the links made before them keep their MAC (their
// tokens keep working) while a link with a grant can never be mistaken
// for one without: every field ends with a NUL, and no RFC 3339 expiry
// holds one.
func linkMAC(key []byte, l *api.ConsoleLink) []byte {
	m := hmac.New(sha256.New, key)
	fields := []string{"humstack console link v1", l.Meta.Group, l.Meta.Namespace, l.Meta.ID, l.Meta.UID,
		l.Spec.VirtualMachineID, l.Spec.ExpiresAt}
	if l.Spec.AllVirtualMachines || l.Spec.Power {
		fields = append(fields, "v2")
		if l.Spec.AllVirtualMachines {
			fields = append(fields, "allVirtualMachines")
		}
		if l.Spec.Power {
			fields = append(fields, "power")
		}
	}
	for _, f := range fields {
		m.Write([]byte(f))
		m.Write([]byte{0})
	}
	return m.Sum(nil)[:macLen]
}

// LinkVerbs are the verbs a console link grants on its VMs.
func LinkVerbs(spec api.ConsoleLinkSpec) []string {
	v := []string{VerbGet, VerbList, VerbWatch, VerbConsole}
	if spec.Power {
		v = append(v, VerbPower)
	}
	return v
}

// ConsoleLinkSource is what the authenticator needs from the store.
type ConsoleLinkSource interface {
	// ConsoleLink reads a link; a missing one (revoked) wraps
	// api.ErrNotFound.
	ConsoleLink(ctx context.Context, group, namespace, id string) (*api.ConsoleLink, error)
	// ConsoleLinkKey returns the cluster's signing key.
	ConsoleLinkKey(ctx context.Context) ([]byte, error)
}

// ConsoleLinkAuthenticator recognizes requests carrying ?link=TOKEN and
// turns them into an identity limited to the link's VM (or every VM of its
// namespace) and the link's verbs (LinkVerbs). Authorization holds it to
// them.
type ConsoleLinkAuthenticator struct {
	Source ConsoleLinkSource
	Now    func() time.Time // nil: time.Now
}

// Authenticate implements the authenticator contract: (nil, false, nil)
// without a link token; (nil, true, err wrapping api.ErrUnauthorized) for a
// malformed, tampered, revoked or expired one; the link's identity otherwise.
func (a *ConsoleLinkAuthenticator) Authenticate(r *http.Request) (*Identity, bool, error) {
	q := r.URL.Query()
	if !q.Has(ConsoleLinkParam) {
		return nil, false, nil
	}
	t, err := ParseConsoleLinkToken(q.Get(ConsoleLinkParam))
	if err != nil {
		return nil, true, err
	}
	l, err := a.Source.ConsoleLink(r.Context(), t.Group, t.Namespace, t.ID)
	if errors.Is(err, api.ErrNotFound) {
		return nil, true, fmt.Errorf("console link revoked or unknown: %w", api.ErrUnauthorized)
	}
	if err != nil {
		return nil, true, fmt.Errorf("console link: %w", err)
	}
	key, err := a.Source.ConsoleLinkKey(r.Context())
	if err != nil {
		return nil, true, fmt.Errorf("console link: %w", err)
	}
	if !hmac.Equal(t.MAC, linkMAC(key, l)) {
		return nil, true, fmt.Errorf("console link token does not match its link: %w", api.ErrUnauthorized)
	}
	if !a.now().Before(expiry(l)) {
		return nil, true, fmt.Errorf("console link expired: %w", api.ErrUnauthorized)
	}
	ref := &ObjectRef{APIType: api.VirtualMachineKind.APIType, Group: t.Group, Namespace: t.Namespace, ID: l.Spec.VirtualMachineID}
	if l.Spec.AllVirtualMachines {
		ref.ID = "" // every VM of the namespace
	}
	return &Identity{
		Name:       "consolelink:" + t.Group + "/" + t.Namespace + "/" + t.ID,
		Kind:       KindConsoleLink,
		Limit:      ref,
		LimitVerbs: LinkVerbs(l.Spec),
		ExpiresAt:  l.Spec.ExpiresAt,
		Via:        ConsoleLinkVia,
	}, true, nil
}

func (a *ConsoleLinkAuthenticator) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// expiry is the link's expiry; an unreadable one (validation forbids it)
// is already past.
func expiry(l *api.ConsoleLink) time.Time {
	t, err := time.Parse(time.RFC3339, l.Spec.ExpiresAt)
	if err != nil {
		return time.Time{}
	}
	return t
}
