// Package testenv starts an in-process humstack control plane for tests: a
// real API server over a bolt store in a temp dir, on a loopback port.
package testenv

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/apiserver"
	"github.com/humstack/humstack/internal/controller"
	"github.com/humstack/humstack/internal/controller/record"
	"github.com/humstack/humstack/internal/storage/bolt"
)

// Env is a running API server and a client for it.
type Env struct {
	Client *client.Client
	Store  *bolt.Store
	URL    string
}

// Start runs an API server until the test ends.
func Start(t testing.TB) *Env { return StartWith(t, nil) }

// StartWith is Start with the API server's options changed by tweak (nil:
// none), which also gets the server's store: e.g. RBAC with the store's
// tokens.
func StartWith(t testing.TB, tweak func(st *bolt.Store, o *apiserver.Options)) *Env {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "db"), bolt.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	opts := apiserver.Options{Log: slog.New(slog.DiscardHandler)}
	if tweak != nil {
		tweak(st, &opts)
	}
	s := apiserver.New(st, opts)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
		s.Close()
		st.Close()
	})
	c, err := client.New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return &Env{Client: c, Store: st, URL: srv.URL}
}

// Eventually polls cond until it holds or timeout passes, then fails the
// test with cond's last explanation.
func Eventually(t testing.TB, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v: %s", timeout, why)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Run starts a controller manager set up by setup, and returns a function
// that stops it and waits for it to finish. Its controllers' events go to
// the API server (m.Recorder), written within a tenth of a second.
func (e *Env) Run(t testing.TB, setup func(m *controller.Manager) error) (stop func()) {
	t.Helper()
	m := controller.NewManager(e.Client, slog.New(slog.DiscardHandler))
	m.Events = record.New(e.Client, record.Options{Node: "test", Interval: 100 * time.Millisecond, WriteRate: 1000, Log: m.Log})
	m.Add(m.Events)
	if err := setup(m); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := m.Start(ctx); err != nil {
			t.Errorf("manager: %v", err)
		}
	}()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

// Create decodes YAML and creates it, failing the test on error.
func (e *Env) Create(t testing.TB, doc string) api.Object {
	t.Helper()
	obj, err := api.Decode([]byte(doc))
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	out, err := e.Client.Create(context.Background(), obj)
	if err != nil {
		t.Fatalf("create %s: %v", obj.GetMeta().ID, err)
	}
	return out
}

// WaitEvent waits until an event with reason about the object id (any
// kind) is stored, and returns it.
func (e *Env) WaitEvent(t testing.TB, id, reason string) *api.Event {
	t.Helper()
	var found *api.Event
	Eventually(t, 10*time.Second, func() (bool, string) {
		objs, _, err := e.Client.List(context.Background(), api.EventKind, client.Scope{})
		if err != nil {
			return false, err.Error()
		}
		var seen []string
		for _, o := range objs {
			ev := o.(*api.Event)
			if ev.Spec.InvolvedObject.ID == id && ev.Spec.Reason == reason {
				found = ev
				return true, ""
			}
			seen = append(seen, ev.Spec.InvolvedObject.ID+":"+ev.Spec.Reason)
		}
		return false, fmt.Sprintf("no event %s about %s; events: %v", reason, id, seen)
	})
	return found
}
