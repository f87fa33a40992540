package controller_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/apiserver"
	"github.com/humstack/humstack/internal/controller"
	"github.com/humstack/humstack/internal/storage/bolt"
)

const (
	group = "g"
	ns    = "ns"
)

var quiet = slog.New(slog.DiscardHandler)

// env is an in-process API server over a bolt store in a temporary
// directory, with a client and the tenancy (group g, namespace g/ns) that
// networks need.
type env struct {
	t     testing.TB
	store *bolt.Store
	srv   *httptest.Server
	c     *client.Client
}

func newEnv(t testing.TB) *env {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "db"), bolt.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(apiserver.New(st, apiserver.Options{Log: quiet, Heartbeat: time.Second}).Handler())
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
		st.Close()
	})
	c := mustClient(t, srv.URL)
	e := &env{t: t, store: st, srv: srv, c: c}
	createTenancy(t, c)
	return e
}

func mustClient(t testing.TB, addr string) *client.Client {
	t.Helper()
	c, err := client.New(addr)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// freshClient is a client with its own connection pool, as a new process
// (humcli) would have. Clients from client.New share http.DefaultTransport,
// whose pooled connections to a stopped server fail a POST with EOF (a POST
// is not retried on a reused connection).
func freshClient(t testing.TB, addr string) *client.Client {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	c, err := client.New(addr, client.WithHTTPClient(&http.Client{Transport: tr}))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func createTenancy(t testing.TB, c *client.Client) {
	t.Helper()
	mustCreate(t, c, &api.Group{Meta: api.Meta{APIType: api.GroupKind.APIType, ID: group}})
	mustCreate(t, c, &api.Namespace{Meta: api.Meta{APIType: api.NamespaceKind.APIType, ID: ns, Group: group}})
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func network(id string, labels map[string]string) *api.Network {
	return &api.Network{
		Meta: api.Meta{
			APIType: api.NetworkKind.APIType, ID: id, Group: group, Namespace: ns,
			Annotations: map[string]string{api.AnnotationNetworkType: api.NetworkTypeBridge},
			Labels:      labels,
		},
		Spec: api.NetworkSpec{IPv4CIDR: "10.0.0.0/24"},
	}
}

func clientScope(g, n string) client.Scope { return client.Scope{Group: g, Namespace: n} }

func netKey(id string) controller.Key { return controller.Key{Group: group, Namespace: ns, ID: id} }

func mustCreate[T api.Object](t testing.TB, c *client.Client, obj T) T {
	t.Helper()
	out, err := client.For[T](c).Create(testCtx(t), obj)
	if err != nil {
		t.Fatalf("create %s: %v", obj.GetMeta().ID, err)
	}
	return out
}

func getNet(t testing.TB, c *client.Client, id string) *api.Network {
	t.Helper()
	n, err := client.For[*api.Network](c).Get(testCtx(t), client.Scope{Group: group, Namespace: ns}, id)
	if err != nil {
		t.Fatalf("get network %s: %v", id, err)
	}
	return n
}

// setLabel sets one label of network id (no concurrent writers expected).
func setLabel(t testing.TB, c *client.Client, id, k, v string) *api.Network {
	t.Helper()
	n := getNet(t, c, id)
	if n.Meta.Labels == nil {
		n.Meta.Labels = map[string]string{}
	}
	n.Meta.Labels[k] = v
	out, err := client.For[*api.Network](c).Update(testCtx(t), n)
	if err != nil {
		t.Fatalf("update network %s: %v", id, err)
	}
	return out
}

func deleteNet(t testing.TB, c *client.Client, id string) {
	t.Helper()
	if _, err := c.Delete(testCtx(t), api.NetworkKind, client.Scope{Group: group, Namespace: ns}, id, client.DeleteOptions{}); err != nil {
		t.Fatalf("delete network %s: %v", id, err)
	}
}

// waitFor polls cond until it holds or fails the test after waitTimeout.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", waitTimeout, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// startManager runs m until the test ends, and checks that it stops.
func startManager(t testing.TB, m *controller.Manager) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("manager: %v", err)
			}
		case <-time.After(waitTimeout):
			t.Errorf("manager still running %v after its context ended", waitTimeout)
		}
	})
}

// call is one Reconcile: when it started and what the cache held (nil:
// absent).
type call struct {
	at  time.Time
	obj *api.Network
}

// recorder is a Reconciler over networks that records every call.
type recorder struct {
	inf *controller.Informer
	// behave, if set, decides the outcome of call n (from 1) of key k.
	behave func(k controller.Key, n int) (controller.Result, error)

	mu    sync.Mutex
	calls map[controller.Key][]call
}

func (r *recorder) Reconcile(_ context.Context, k controller.Key) (controller.Result, error) {
	var n *api.Network
	if o, ok := r.inf.Get(k); ok {
		n = o.(*api.Network)
	}
	r.mu.Lock()
	if r.calls == nil {
		r.calls = map[controller.Key][]call{}
	}
	r.calls[k] = append(r.calls[k], call{at: time.Now(), obj: n})
	num := len(r.calls[k])
	r.mu.Unlock()
	if r.behave != nil {
		return r.behave(k, num)
	}
	return controller.Result{}, nil
}

func (r *recorder) count(k controller.Key) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.calls[k])
}

func (r *recorder) history(k controller.Key) []call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls[k])
}

// last returns what the latest call of k saw; ok is false if none ran.
func (r *recorder) last(k controller.Key) (obj *api.Network, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	cs := r.calls[k]
	if len(cs) == 0 {
		return nil, false
	}
	return cs[len(cs)-1].obj, true
}

// observation is one Metrics.Reconciled call.
type observation struct {
	controller string
	d          time.Duration
	err        error
}

type metrics struct {
	mu  sync.Mutex
	obs []observation
}

func (m *metrics) Reconciled(c string, d time.Duration, err error) {
	m.mu.Lock()
	m.obs = append(m.obs, observation{c, d, err})
	m.mu.Unlock()
}

func (m *metrics) all() []observation {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.obs)
}

// harness is a manager with a network informer and a recording controller.
type harness struct {
	m    *controller.Manager
	inf  *controller.Informer
	ctrl *controller.Controller
	rec  *recorder
	met  *metrics

	mu      sync.Mutex
	deletes map[controller.Key]int // delete notifications of the informer
}

func newHarness(c *client.Client, log *slog.Logger, opts controller.Options, behave func(controller.Key, int) (controller.Result, error)) *harness {
	if log == nil {
		log = quiet
	}
	h := &harness{m: controller.NewManager(c, log), met: &metrics{}, deletes: map[controller.Key]int{}}
	h.inf = h.m.Informer(api.NetworkKind, "", nil)
	h.rec = &recorder{inf: h.inf, behave: behave}
	opts.Metrics = h.met
	if opts.Log == nil {
		opts.Log = log
	}
	h.ctrl = controller.New("test", h.inf, h.rec, opts)
	h.inf.AddHandler(func(old, new api.Object) {
		if new == nil {
			h.mu.Lock()
			h.deletes[controller.KeyOf(old)]++
			h.mu.Unlock()
		}
	})
	h.m.Add(h.ctrl)
	return h
}

// start runs the manager and waits for the first list.
func (h *harness) start(t testing.TB) {
	t.Helper()
	startManager(t, h.m)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if !h.inf.WaitSynced(ctx) {
		t.Fatal("informer did not sync")
	}
}

func (h *harness) deleted(k controller.Key) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.deletes[k]
}

// converged reports whether the informer's cache and the reconciler's last
// view of every key match the server exactly: the same keys at the same
// resourceVersions, and every key absent from the server last reconciled
// as absent. It returns a description of the first difference.
func (h *harness) converged(ctx context.Context, c *client.Client) (bool, string) {
	objs, _, err := c.List(ctx, api.NetworkKind, client.Scope{})
	if err != nil {
		return false, err.Error()
	}
	want := map[controller.Key]string{}
	for _, o := range objs {
		want[controller.KeyOf(o)] = o.GetMeta().ResourceVersion
	}
	cached := map[controller.Key]string{}
	for _, o := range h.inf.List() {
		cached[controller.KeyOf(o)] = o.GetMeta().ResourceVersion
	}
	if d := diff(want, cached); d != "" {
		return false, "cache differs from server: " + d
	}
	h.rec.mu.Lock()
	defer h.rec.mu.Unlock()
	for k, rv := range want {
		cs := h.rec.calls[k]
		if len(cs) == 0 {
			return false, k.String() + " never reconciled"
		}
		if last := cs[len(cs)-1].obj; last == nil || last.Meta.ResourceVersion != rv {
			return false, fmt.Sprintf("%s last reconciled at %v, server has %s", k, rvOf(last), rv)
		}
	}
	for k, cs := range h.rec.calls {
		if _, ok := want[k]; !ok && cs[len(cs)-1].obj != nil {
			return false, fmt.Sprintf("%s is gone but was last reconciled as present (%s)", k, rvOf(cs[len(cs)-1].obj))
		}
	}
	return true, ""
}

func rvOf(n *api.Network) string {
	if n == nil {
		return "absent"
	}
	return n.Meta.ResourceVersion
}

func diff(want, got map[controller.Key]string) string {
	var out []string
	for k, v := range want {
		if g, ok := got[k]; !ok {
			out = append(out, k.String()+" missing")
		} else if g != v {
			out = append(out, fmt.Sprintf("%s at %s, want %s", k, g, v))
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			out = append(out, k.String()+" extra")
		}
	}
	sort.Strings(out)
	return strings.Join(out, "; ")
}

// waitConverged waits until h.converged holds.
func (h *harness) waitConverged(t testing.TB, c *client.Client) {
	t.Helper()
	ctx := testCtx(t)
	deadline := time.Now().Add(waitTimeout)
	for {
		ok, why := h.converged(ctx, c)
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not converged after %v: %s", waitTimeout, why)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// liveServer is an API server on a fixed loopback port that can be stopped
// and started again on the same address, over a bolt store that can be
// closed and reopened from the same file.
type liveServer struct {
	t      testing.TB
	path   string
	addr   string
	abrupt bool // stop like a crash: close every connection at once
	store  *bolt.Store

	stop func()
}

func newLiveServer(t testing.TB, abrupt bool) *liveServer {
	s := &liveServer{t: t, path: filepath.Join(t.TempDir(), "db"), abrupt: abrupt}
	s.openStore()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	s.serve(ln)
	t.Cleanup(func() {
		s.down()
		s.closeStore()
	})
	return s
}

func (s *liveServer) openStore() {
	st, err := bolt.Open(s.path, bolt.Options{Logger: quiet})
	if err != nil {
		s.t.Fatal(err)
	}
	s.store = st
}

func (s *liveServer) closeStore() {
	if s.store != nil {
		if err := s.store.Close(); err != nil {
			s.t.Errorf("close store: %v", err)
		}
		s.store = nil
	}
}

func (s *liveServer) serve(ln net.Listener) {
	srv := apiserver.New(s.store, apiserver.Options{Log: quiet, Heartbeat: time.Second})
	if s.abrupt {
		hs := &http.Server{Handler: srv.Handler()}
		done := make(chan struct{})
		go func() { defer close(done); _ = hs.Serve(ln) }()
		s.stop = func() {
			_ = hs.Close() // listener and every connection, streams included
			<-done
		}
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	s.stop = func() {
		cancel()
		if err := <-done; err != nil {
			s.t.Errorf("serve: %v", err)
		}
	}
}

// up starts serving again on the same address.
func (s *liveServer) up() {
	s.t.Helper()
	var ln net.Listener
	var err error
	deadline := time.Now().Add(waitTimeout)
	for {
		if ln, err = net.Listen("tcp", s.addr); err == nil {
			break
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("listen again on %s: %v", s.addr, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.serve(ln)
}

// down stops serving.
func (s *liveServer) down() {
	if s.stop != nil {
		s.stop()
		s.stop = nil
	}
}

// side serves the current store on another address (httptest), for writes
// the main address must not see while it is down.
func (s *liveServer) side() (*client.Client, func()) {
	srv := httptest.NewServer(apiserver.New(s.store, apiserver.Options{Log: quiet}).Handler())
	return mustClient(s.t, srv.URL), func() {
		srv.CloseClientConnections()
		srv.Close()
	}
}

// logCapture is a slog handler keeping every record's message and error
// attributes.
type logCapture struct {
	mu   *sync.Mutex
	recs *[]capturedRecord
}

type capturedRecord struct {
	msg  string
	errs []error
}

func newLogCapture() *logCapture {
	return &logCapture{mu: &sync.Mutex{}, recs: &[]capturedRecord{}}
}

func slogNew(h slog.Handler) *slog.Logger { return slog.New(h) }

func (l *logCapture) Enabled(context.Context, slog.Level) bool { return true }
func (l *logCapture) Handle(_ context.Context, r slog.Record) error {
	rec := capturedRecord{msg: r.Message}
	r.Attrs(func(a slog.Attr) bool {
		if err, ok := a.Value.Any().(error); ok {
			rec.errs = append(rec.errs, err)
		}
		return true
	})
	l.mu.Lock()
	*l.recs = append(*l.recs, rec)
	l.mu.Unlock()
	return nil
}
func (l *logCapture) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logCapture) WithGroup(string) slog.Handler      { return l }

// logged reports whether a record carried an error matching target.
func (l *logCapture) logged(target error) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range *l.recs {
		for _, err := range r.errs {
			if errors.Is(err, target) {
				return true
			}
		}
	}
	return false
}

// count returns how many records had message msg.
func (l *logCapture) count(msg string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, r := range *l.recs {
		if r.msg == msg {
			n++
		}
	}
	return n
}
