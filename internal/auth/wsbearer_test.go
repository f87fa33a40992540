package auth_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/auth"
)

// TestWebsocketBearer: the token entry of a websocket upgrade becomes the
// Authorization header and leaves the subprotocol list (several header
// lines are one list); other requests are untouched; conflicts are 400.
func TestWebsocketBearer(t *testing.T) {
	upgrade := func(protos ...string) *http.Request {
		r := httptest.NewRequest("GET", "/x", nil)
		r.Header.Set("Connection", "Upgrade")
		r.Header.Set("Upgrade", "websocket")
		for _, p := range protos {
			r.Header.Add("Sec-WebSocket-Protocol", p)
		}
		return r
	}
	entry := auth.BearerSubprotocol("hst_t1.secret")
	r := upgrade("binary, chat", entry)
	out, err := auth.WebsocketBearer(r)
	if err != nil {
		t.Fatal(err)
	}
	if b, ok := auth.BearerOf(out); !ok || b != "hst_t1.secret" {
		t.Errorf("bearer %q %v", b, ok)
	}
	if got := out.Header.Values("Sec-WebSocket-Protocol"); len(got) != 1 || got[0] != "binary, chat" {
		t.Errorf("subprotocols left %q", got)
	}
	if r.Header.Get("Authorization") != "" || len(r.Header.Values("Sec-WebSocket-Protocol")) != 2 {
		t.Error("the caller's request was changed")
	}
	// No upgrade: left alone.
	plain := httptest.NewRequest("GET", "/x", nil)
	plain.Header.Set("Sec-WebSocket-Protocol", entry)
	if out, err := auth.WebsocketBearer(plain); err != nil || out != plain {
		t.Errorf("plain GET: %v", err)
	}
	both := upgrade(entry)
	both.Header.Set("Authorization", "Bearer x")
	link := upgrade(entry)
	link.URL.RawQuery = "link=a.b.c.d"
	for name, req := range map[string]*http.Request{"header": both, "link": link, "two": upgrade(entry, entry)} {
		if _, err := auth.WebsocketBearer(req); !errors.Is(err, api.ErrInvalid) {
			t.Errorf("%s: %v, want invalid", name, err)
		}
	}
	for _, bad := range []string{auth.BearerSubprotocolPrefix, auth.BearerSubprotocolPrefix + "!!", entry + "="} {
		if _, err := auth.WebsocketBearer(upgrade(bad)); !errors.Is(err, api.ErrUnauthorized) {
			t.Errorf("%q: %v, want unauthorized", bad, err)
		}
	}
}
