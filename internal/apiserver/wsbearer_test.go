package apiserver_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/coder/websocket"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/agent/console"
	"github.com/humstack/humstack/internal/apiserver"
	"github.com/humstack/humstack/internal/auth"
	"github.com/humstack/humstack/internal/storage"
)

// storeToken stores a token of owner (in groups) straight into st, as the
// server would, and returns its bearer value.
func storeToken(t testing.TB, st storage.Store, owner string, groups ...string) string {
	t.Helper()
	id := owner + "-token"
	bearer, salt, hash, err := auth.IssueToken(id)
	if err != nil {
		t.Fatal(err)
	}
	tok := api.TokenKind.New().(*api.Token)
	tok.Meta.ID = id
	tok.Spec = api.TokenSpec{Owner: owner, Groups: groups}
	tok.Status = api.TokenStatus{Salt: salt, Hash: hash}
	data, err := api.Encode(tok)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Create(context.Background(), "/tokens/"+id, data); err != nil {
		t.Fatal(err)
	}
	return bearer
}

// syncBuffer is a log destination the server's goroutines share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// wsDial opens a websocket to path with the subprotocols and header given,
// as a browser would (no credentials but what protos carry).
func wsDial(t *testing.T, base, path string, protos []string, h http.Header) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	u := "ws" + strings.TrimPrefix(base, "http") + path
	return websocket.Dial(ctx(t), u, &websocket.DialOptions{Subprotocols: protos, HTTPHeader: h})
}

// TestWebsocketBearerSubprotocol: a browser's websocket with its token as
// the subprotocol humstack.bearer.<base64url> opens the serial and VNC
// consoles under authorization rbac; the answer selects "binary" only;
// a bad token is 401, a token both there and in Authorization is 400;
// nothing logs the token.
func TestWebsocketBearerSubprotocol(t *testing.T) {
	logs := &syncBuffer{}
	e := newConsoleEnvWith(t, apiserver.Options{NodeSecret: nodeSecret, Authorization: apiserver.AuthorizationRBAC,
		Log: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	serial := vmPath + "/vm1/serial"
	entry := auth.BearerSubprotocol(e.admin)

	conn, resp, err := wsDial(t, e.url, serial, []string{"binary", entry}, nil)
	if err != nil {
		t.Fatalf("serial with the token subprotocol: %v", err)
	}
	if got := resp.Header.Values("Sec-WebSocket-Protocol"); len(got) != 1 || got[0] != "binary" || conn.Subprotocol() != "binary" {
		t.Fatalf("answered subprotocol %q (%q), want binary only", got, conn.Subprotocol())
	}
	readUntil(t, conn, "tiny login: ")
	if err := conn.Write(ctx(t), websocket.MessageBinary, []byte("root\n")); err != nil {
		t.Fatal(err)
	}
	readUntil(t, conn, "root\n")
	conn.Close(websocket.StatusNormalClosure, "")

	// The token first in the list changes nothing: "binary" is chosen.
	vnc, resp, err := wsDial(t, e.url, vmPath+"/vm1/ws", []string{entry, "binary"}, nil)
	if err != nil {
		t.Fatalf("vnc: %v", err)
	}
	if got := resp.Header.Get("Sec-WebSocket-Protocol"); got != "binary" {
		t.Fatalf("vnc answered subprotocol %q", got)
	}
	readUntil(t, vnc, "RFB")
	vnc.Close(websocket.StatusNormalClosure, "")

	unknown, _, _, _ := auth.IssueToken("nobody-token")
	for name, tc := range map[string]struct {
		protos []string
		h      http.Header
		want   int
	}{
		"no credential":   {[]string{"binary"}, nil, http.StatusUnauthorized},
		"unknown token":   {[]string{"binary", auth.BearerSubprotocol(unknown)}, nil, http.StatusUnauthorized},
		"not base64url":   {[]string{"binary", auth.BearerSubprotocolPrefix + "a+b/"}, nil, http.StatusUnauthorized},
		"padded":          {[]string{"binary", entry + "=="}, nil, http.StatusUnauthorized},
		"bad JWT":         {[]string{"binary", auth.BearerSubprotocol("eyJhbGciOiJub25lIn0.e30.")}, nil, http.StatusUnauthorized},
		"and a header":    {[]string{"binary", entry}, http.Header{"Authorization": {"Bearer " + e.admin}}, http.StatusBadRequest},
		"two tokens":      {[]string{"binary", entry, entry + "x"}, nil, http.StatusBadRequest},
		"malformed token": {[]string{"binary", auth.BearerSubprotocol("hst_x.y")}, nil, http.StatusUnauthorized},
	} {
		c, resp, err := wsDial(t, e.url, serial, tc.protos, tc.h)
		if err == nil {
			c.CloseNow()
		}
		if resp == nil || resp.StatusCode != tc.want {
			t.Errorf("%s: %v %v, want HTTP %d", name, resp, err, tc.want)
		}
	}
	// Only a websocket upgrade reads the subprotocol: a plain GET with it
	// is anonymous.
	req, _ := http.NewRequest("GET", e.url+vmPath+"/vm1", nil)
	req.Header.Set("Sec-WebSocket-Protocol", entry)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("plain GET with the subprotocol header: %v %v, want 401", resp, err)
	} else {
		resp.Body.Close()
	}
	secret := e.admin[strings.Index(e.admin, ".")+1:]
	if out := logs.String(); strings.Contains(out, secret) || strings.Contains(out, entry) {
		t.Error("the server's log holds the token")
	}
}

// TestSubprotocolSelection: coder/websocket answers with the first of the
// server's subprotocols that the client offers (in the server's order), so
// a handler listing only console.Subprotocol never selects a token entry,
// even when the request still carried one and offered it first.
func TestSubprotocolSelection(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{console.Subprotocol}})
		if err == nil {
			c.Close(websocket.StatusNormalClosure, "")
		}
	}))
	defer srv.Close()
	entry := auth.BearerSubprotocol("hst_t.secret")
	for _, protos := range [][]string{{entry, "binary"}, {"binary", entry}} {
		c, resp, err := wsDial(t, srv.URL, "/", protos, nil)
		if err != nil {
			t.Fatal(err)
		}
		c.CloseNow()
		if got := resp.Header.Values("Sec-WebSocket-Protocol"); len(got) != 1 || got[0] != "binary" {
			t.Errorf("offered %q: answered %q", protos, got)
		}
	}
	// Offering the token alone selects nothing (a browser then fails the
	// connection rather than use the token as a protocol).
	c, resp, err := wsDial(t, srv.URL, "/", []string{entry}, nil)
	if err == nil {
		c.CloseNow()
	}
	if resp != nil && resp.Header.Get("Sec-WebSocket-Protocol") != "" {
		t.Errorf("token alone: answered %q", resp.Header.Get("Sec-WebSocket-Protocol"))
	}
}
