package apiserver_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/apiserver"
	"github.com/humstack/humstack/internal/auth"
	"github.com/humstack/humstack/internal/storage"
	"github.com/humstack/humstack/internal/storage/bolt"
	"golang.org/x/sys/unix"
)

// BenchmarkCreateAuthShare measures what authentication and authorization
// cost a create inside the real handler chain, with figures that do not
// drown in the noise of a shared machine: CPU time, not wall time. The
// benchmark calls the server's handler directly (no network) on a
// goroutine locked to its thread, so every create runs on that thread; the
// server times its own authentication and authorization stages on that
// thread's CPU clock (apiserver.SetAuthTimer), which other processes'
// load does not move. Per create:
//
//	auth-µs/op   CPU time of authentication + authorization
//	cpu-µs/op    the process's CPU time (user+sys, getrusage): the whole
//	             create, the store's commit goroutine and the GC included
//	auth-%       auth-µs / cpu-µs: the share of a create's CPU
//	req-cpu-µs/op  the CPU time of the request's own thread (the handler
//	             without the store's commit goroutine and the GC)
//	auth-%-of-req  auth-µs / req-cpu-µs: the share on that thread alone,
//	             an upper bound of auth-% measured on one clock
//	wall-µs/op   the handler's wall time, for context (it waits for the
//	             store's fsync, so it is the noisy one)
//
// off is --authorization off (the authenticator chain still runs, for an
// anonymous request); rbac creates as an editor bound in the namespace, by
// bearer token (a store read, a salted SHA-256, the policy decision).
func BenchmarkCreateAuthShare(b *testing.B) {
	for _, mode := range []string{apiserver.AuthorizationOff, apiserver.AuthorizationRBAC} {
		b.Run(mode, func(b *testing.B) { benchAuthShare(b, mode) })
	}
}

func benchAuthShare(b *testing.B, mode string) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	h, s, bearer := authShareServer(b, mode, nil)
	create := func(i int) {
		body, err := api.Encode(newVM(fmt.Sprintf("vm%d", i)))
		if err != nil {
			b.Fatal(err)
		}
		req := httptest.NewRequest(http.MethodPost, "/api/v0/groups/g/namespaces/ns/virtualmachines", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusCreated {
			b.Fatalf("create: %d %s", rec.Code, rec.Body)
		}
	}
	for i := range 50 { // warm the caches (policy, token, bolt pages)
		create(-1 - i) // ids vm-1 .. vm-50 are not the loop's
	}
	var spent time.Duration // only this thread serves requests here
	apiserver.SetAuthTimer(s, threadCPU, func(d time.Duration) { spent += d })
	var wall, req time.Duration
	cpu0 := processCPU(b)
	n := 0
	for b.Loop() {
		start, startCPU := time.Now(), threadCPU()
		create(n)
		req += threadCPU() - startCPU
		wall += time.Since(start)
		n++
	}
	cpu := processCPU(b) - cpu0
	us := func(d time.Duration) float64 { return float64(d) / float64(n) / 1e3 }
	b.ReportMetric(us(spent), "auth-µs/op")
	b.ReportMetric(us(cpu), "cpu-µs/op")
	b.ReportMetric(100*float64(spent)/float64(cpu), "auth-%")
	b.ReportMetric(us(req), "req-cpu-µs/op")
	b.ReportMetric(100*float64(spent)/float64(req), "auth-%-of-req")
	b.ReportMetric(us(wall), "wall-µs/op")
}

// threadCPU is the CPU time of the calling thread.
func threadCPU() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		panic(err)
	}
	return time.Duration(ts.Nano())
}

// authShareServer is a server in mode (metrics m, nil: off) on a fresh
// store with group g and namespace g/ns, and the bearer token of an editor
// of g/ns (rbac).
func authShareServer(b *testing.B, mode string, m *apiserver.Metrics) (http.Handler, *apiserver.Server, string) {
	st, err := bolt.Open(filepath.Join(b.TempDir(), "db"), bolt.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	var store storage.Store = st
	if m != nil {
		store = m.Store(st) // as Run does: token reads are timed too
	}
	s := apiserver.New(store, apiserver.Options{
		Log: slog.New(slog.DiscardHandler), Heartbeat: time.Second, Authorization: mode, Metrics: m,
		Authenticator: &auth.TokenAuthenticator{Lookup: apiserver.TokenLookup(store)},
	})
	b.Cleanup(func() { s.Close(); st.Close() })
	e := &rbacEnv{env: &env{t: b, store: st}, tokens: map[string]string{}}
	for _, f := range []string{"group", "namespace"} {
		obj := seedFixture(b, f)
		m := obj.GetMeta()
		m.ID, m.Group = "g", ""
		key := "/groups/g"
		if f == "namespace" {
			m.ID, m.Group, key = "ns", "g", "/namespaces/g/ns"
		}
		e.put(key, obj)
	}
	if mode == apiserver.AuthorizationOff {
		return s.Handler(), s, ""
	}
	bearer := e.token("dev", "")
	e.bind("dev", auth.RoleEditor, "g", "ns")
	return s.Handler(), s, bearer
}

// processCPU is the process's user and system CPU time so far.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
