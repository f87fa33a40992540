package apiserver

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/auth"
)

// consoleLinkKeyKey is the store key of the console links' signing key. It
// is outside every kind's prefix (plurals are letters), so no list or
// watch sees it; export and import carry it, so links survive a move to
// etcd. Every apiserver on one etcd shares it.
const consoleLinkKeyKey = "/_cluster/consolelink-key"

// linkKeys loads the signing key once and keeps it.
type linkKeys struct {
	s   *Server
	mu  sync.Mutex
	key []byte
}

type storedLinkKey struct {
	Key []byte `json:"key"` // base64 in JSON
}

// ConsoleLinkKey returns the key, creating it on first use if the store
// has none. Two apiservers racing to create it both end with the winner's.
func (k *linkKeys) ConsoleLinkKey(ctx context.Context) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.key != nil {
		return k.key, nil
	}
	for range 2 {
		kv, err := k.s.store.Get(ctx, consoleLinkKeyKey)
		if err == nil {
			var sk storedLinkKey
			if err := json.Unmarshal(kv.Value, &sk); err != nil || len(sk.Key) < 32 {
				return nil, fmt.Errorf("stored console link key %s is unreadable", consoleLinkKeyKey)
			}
			k.key = sk.Key
			return k.key, nil
		}
		if !errors.Is(err, api.ErrNotFound) {
			return nil, fmt.Errorf("console link key: %w", err)
		}
		fresh := make([]byte, 32)
		_, _ = rand.Read(fresh)
		b, _ := json.Marshal(storedLinkKey{Key: fresh})
		if _, err := k.s.store.Create(ctx, consoleLinkKeyKey, b); err != nil && !errors.Is(err, api.ErrAlreadyExists) {
			return nil, fmt.Errorf("console link key: %w", err)
		}
	}
	return nil, fmt.Errorf("console link key: created but not readable: %w", api.ErrUnavailable)
}

// ConsoleLink reads a link from the store.
func (k *linkKeys) ConsoleLink(ctx context.Context, group, namespace, id string) (*api.ConsoleLink, error) {
	obj, _, err := (&resource{s: k.s, kind: api.ConsoleLinkKind}).read(ctx, &api.Meta{Group: group, Namespace: namespace, ID: id})
	if err != nil {
		return nil, err
	}
	return obj.(*api.ConsoleLink), nil
}

// LinkUIPath is the web console's page of a console link, before its token.
const LinkUIPath = "/ui/#/link/"

// withLinkToken returns the create's answer for a new link: the stored
// object with the token and URLs in its status, which is never stored.
func withLinkToken(key []byte, obj api.Object) ([]byte, error) {
	l := obj.(*api.ConsoleLink)
	tok := auth.SignConsoleLink(key, l)
	answer := *l
	// The token is base64url and DNS labels joined by dots: nothing in it
	// needs escaping in a URL fragment.
	answer.Status = api.ConsoleLinkStatus{Token: tok, UIURL: LinkUIPath + tok}
	if !l.Spec.AllVirtualMachines {
		vm := "/api/v0/groups/" + l.Meta.Group + "/namespaces/" + l.Meta.Namespace + "/" +
			api.VirtualMachineKind.Plural + "/" + l.Spec.VirtualMachineID
		q := "?" + url.Values{auth.ConsoleLinkParam: {tok}}.Encode()
		answer.Status.SerialURL, answer.Status.VNCURL, answer.Status.LogURL = vm+"/serial"+q, vm+"/ws"+q, vm+"/serial/log"+q
	}
	return api.Encode(&answer)
}

// guardLink ends a console session opened with a console link once the
// link expires or is revoked: it checks the link again every
// linkRecheck and closes the user's side with 1008 (policy violation) and
// the reason. A store that cannot answer does not end the session; the
// next check decides. The returned func stops the guard.
func (s *Server) guardLink(r *http.Request, down *websocket.Conn) (stop func()) {
	if auth.FromContext(r.Context()).Via != auth.ConsoleLinkVia {
		return func() {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		t := time.NewTicker(s.linkRecheck)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			_, _, err := s.links.Authenticate(r.WithContext(ctx))
			if errors.Is(err, api.ErrUnauthorized) {
				s.log.InfoContext(r.Context(), "console link session ended", "request_id", requestID(r.Context()), "reason", err.Error())
				down.Close(websocket.StatusPolicyViolation, closeReason(err))
				return
			}
		}
	}()
	return cancel
}

// closeReason is err's message within a websocket close frame's limit.
func closeReason(err error) string {
	msg, _ := strings.CutSuffix(err.Error(), ": "+api.ErrUnauthorized.Error())
	if len(msg) > 120 {
		msg = msg[:120]
	}
	return msg
}
