package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
)

func TestNewAddress(t *testing.T) {
	for in, want := range map[string]string{
		"localhost:8080":          "http://localhost:8080",
		"http://10.0.0.1:80/":     "http://10.0.0.1:80",
		"https://api.example:443": "https://api.example:443",
	} {
		c, err := New(in)
		if err != nil || c.bases[0] != want {
			t.Errorf("New(%q) = %v, %v; want %s", in, c, err, want)
		}
	}
	for _, in := range []string{"ftp://x", "http://", "http://a b"} {
		if _, err := New(in); err == nil {
			t.Errorf("New(%q) accepted", in)
		}
	}
}

// TestErrorClassesComeBack: the reason tells 409s apart; the status alone
// maps the rest.
func TestErrorClassesComeBack(t *testing.T) {
	cases := []struct {
		status int
		reason string
		want   error
	}{
		{409, "AlreadyExists", api.ErrAlreadyExists},
		{409, "Conflict", api.ErrConflict},
		{404, "", api.ErrNotFound},
		{400, "Invalid", api.ErrInvalid},
		{410, "Gone", api.ErrGone},
		{503, "", api.ErrUnavailable},
	}
	for _, c := range cases {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(c.status)
			fmt.Fprintf(w, `{"code":%d,"error":"group g: boom","reason":%q,"data":null}`, c.status, c.reason)
		}))
		cl, _ := New(srv.URL)
		_, err := cl.Get(context.Background(), api.GroupKind, Scope{}, "g")
		srv.Close()
		if !errors.Is(err, c.want) || err.Error() != "group g: boom" {
			t.Errorf("%d %s: got %v, want %v", c.status, c.reason, err, c.want)
		}
		if c.want == api.ErrAlreadyExists && errors.Is(err, api.ErrConflict) {
			t.Errorf("AlreadyExists also matched Conflict")
		}
	}
}

func sse(w http.ResponseWriter, rev int, id string) {
	fmt.Fprintf(w, "id: %d\nevent: ADDED\ndata: {\"type\":\"ADDED\",\"object\":{\"meta\":{\"resourceVersion\":\"%d\",\"id\":%q,\"apiType\":\"corev0/group\"}}}\n\n", rev, rev, id)
	w.(http.Flusher).Flush()
}

// TestWatchResumesFromLastDelivered: after the stream breaks, the client
// reconnects asking for the revision after the last event it delivered.
func TestWatchResumesFromLastDelivered(t *testing.T) {
	var calls atomic.Int32
	var asked [3]string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		if n > 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		asked[n-1] = r.URL.Query().Get("resourceVersion")
		w.Header().Set("Content-Type", "text/event-stream")
		switch n {
		case 1:
			sse(w, 6, "a")
			sse(w, 7, "b")
			fmt.Fprint(w, "id: 8\nevent: ADDED\n") // cut mid-event: must not count
		case 2:
			w.WriteHeader(http.StatusServiceUnavailable) // server restarting
			return
		case 3:
			sse(w, 8, "c")
			<-r.Context().Done()
		}
	}))
	defer srv.Close()
	c, _ := New(srv.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ch, err := c.Watch(ctx, api.GroupKind, Scope{}, 5)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"a", "b", "c"} {
		select {
		case ev := <-ch:
			if ev.Err != nil || ev.Object.GetMeta().ID != want {
				t.Fatalf("got %+v, want %s", ev, want)
			}
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", want)
		}
	}
	if asked != [3]string{"5", "7", "7"} {
		t.Fatalf("resourceVersions asked: %v", asked)
	}
}

func TestWatchGoneIsReturned(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusGone)
		fmt.Fprint(w, `{"code":410,"error":"compacted","reason":"Gone","data":null}`)
	}))
	defer srv.Close()
	c, _ := New(srv.URL)
	if _, err := c.Watch(context.Background(), api.GroupKind, Scope{}, 1); !errors.Is(err, api.ErrGone) {
		t.Fatalf("got %v, want ErrGone", err)
	}
}

func TestObjectPathNeedsScope(t *testing.T) {
	c, _ := New("localhost:1")
	if _, err := c.Get(context.Background(), api.VirtualMachineKind, Scope{Group: "g"}, "vm"); !errors.Is(err, api.ErrInvalid) {
		t.Fatalf("missing namespace: %v", err)
	}
	if got := collectionPath(api.VirtualMachineKind, Scope{Group: "g"}); got != "/api/v0/groups/g/virtualmachines" {
		t.Fatal(got)
	}
}
