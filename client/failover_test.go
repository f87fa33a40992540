package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
)

// deadAddr is an address nothing listens on.
func deadAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func groupServer(calls *atomic.Int32, status int) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(status)
		if status == http.StatusOK {
			fmt.Fprint(w, `{"code":200,"error":null,"data":{"group":{"meta":{"id":"g","apiType":"corev0/group"}}}}`)
			return
		}
		fmt.Fprintf(w, `{"code":%d,"error":"boom","data":null}`, status)
	}))
}

func TestNewSeveralAddresses(t *testing.T) {
	c, err := New("a:1, http://b:2/")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Servers(); len(got) != 2 || got[0] != "http://a:1" || got[1] != "http://b:2" {
		t.Fatalf("Servers() = %v", got)
	}
	if _, err := New("a:1,,b:2"); err == nil {
		t.Fatal("an empty address in the list was accepted")
	}
}

// TestFailoverOnDeadServer: the first server is gone; every request goes
// to the second, which then stays in use.
func TestFailoverOnDeadServer(t *testing.T) {
	var calls atomic.Int32
	live := groupServer(&calls, http.StatusOK)
	defer live.Close()
	c, err := NewMulti([]string{deadAddr(t), live.URL})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := c.Get(t.Context(), api.GroupKind, Scope{}, "g"); err != nil {
			t.Fatal(err)
		}
	}
	if calls.Load() != 3 || c.Servers()[0] != live.URL {
		t.Fatalf("%d calls to the live server, in use %s", calls.Load(), c.Servers()[0])
	}
	// A write is safe to send elsewhere when the dead server refused the
	// connection: it never arrived.
	g := api.GroupKind.New().(*api.Group)
	g.Meta.ID = "g"
	c.cur.Store(0)
	if _, err := c.Create(t.Context(), g); err != nil {
		t.Fatalf("create with the first server dead: %v", err)
	}
}

// TestNoFailoverOnAPIError: an answer is an answer, even a 503.
func TestNoFailoverOnAPIError(t *testing.T) {
	var a, b atomic.Int32
	sa, sb := groupServer(&a, http.StatusServiceUnavailable), groupServer(&b, http.StatusOK)
	defer sa.Close()
	defer sb.Close()
	c, _ := NewMulti([]string{sa.URL, sb.URL})
	if _, err := c.Get(t.Context(), api.GroupKind, Scope{}, "g"); !errors.Is(err, api.ErrUnavailable) {
		t.Fatalf("got %v, want the 503", err)
	}
	if a.Load() != 1 || b.Load() != 0 {
		t.Fatalf("calls: first %d, second %d; want 1, 0", a.Load(), b.Load())
	}
}

// TestWriteNotResentAfterBrokenConnection: a write whose connection broke
// after it was sent may have been applied; it is not resent elsewhere.
func TestWriteNotResentAfterBrokenConnection(t *testing.T) {
	var b atomic.Int32
	sa := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.Close()
	}))
	defer sa.Close()
	sb := groupServer(&b, http.StatusOK)
	defer sb.Close()
	c, _ := NewMulti([]string{sa.URL, sb.URL})
	g := api.GroupKind.New().(*api.Group)
	g.Meta.ID = "g"
	g.Meta.ResourceVersion = "5"
	if _, err := c.Update(t.Context(), g); !errors.Is(err, api.ErrUnavailable) {
		t.Fatalf("update: %v, want ErrUnavailable", err)
	}
	if b.Load() != 0 {
		t.Fatal("the write was resent to the second server")
	}
	if _, err := c.Get(t.Context(), api.GroupKind, Scope{}, "g"); err != nil || b.Load() != 1 {
		t.Fatalf("a read moves on: %v, %d calls", err, b.Load())
	}
}

// TestWatchMovesToNextServer: the server streaming a watch dies; the watch
// resumes on the other server after the last revision it delivered.
func TestWatchMovesToNextServer(t *testing.T) {
	var asked atomic.Value
	sa := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		sse(w, 6, "a")
		sse(w, 7, "b")
	}))
	sb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Store(r.URL.Query().Get("resourceVersion"))
		w.Header().Set("Content-Type", "text/event-stream")
		sse(w, 8, "c")
		<-r.Context().Done()
	}))
	defer sb.Close()
	c, _ := NewMulti([]string{sa.URL, sb.URL})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ch, err := c.Watch(ctx, api.GroupKind, Scope{}, 5)
	if err != nil {
		t.Fatal(err)
	}
	sa.Close() // the first server dies after its stream ends
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
	if asked.Load() != "7" {
		t.Fatalf("second server asked for resourceVersion %v, want 7", asked.Load())
	}
}
