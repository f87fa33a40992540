package apiserver_test

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/apiserver"
	"github.com/humstack/humstack/internal/auth"
	"github.com/humstack/humstack/internal/storage"
	"github.com/humstack/humstack/internal/storage/bolt"
)

// eventAbout is a valid event about ref, last seen at last.
func eventAbout(id string, ref api.ObjectReference, reason string, last time.Time) *api.Event {
	ev := api.EventKind.New().(*api.Event)
	ev.Meta.ID = id
	ev.Spec = api.EventSpec{Type: api.EventWarning, Reason: reason, Message: "m", Count: 1,
		FirstTimestamp: last, LastTimestamp: last, InvolvedObject: ref}
	return ev
}

func vmRef(g, ns, id string) api.ObjectReference {
	return api.ObjectReference{APIType: api.VirtualMachineKind.APIType, Group: g, Namespace: ns, ID: id}
}

// TestEventsFollowTheirObject: a viewer of g1/ns1 sees the events of
// g1/ns1's objects (and of ns1 itself) and no others, in lists and
// watches; a node writes events only about what it may see.
func TestEventsFollowTheirObject(t *testing.T) {
	e := newRBACEnv(t)
	now := time.Now().UTC()
	nsRef := api.ObjectReference{APIType: api.NamespaceKind.APIType, Group: "g1", ID: "ns1"}
	for _, ev := range []*api.Event{
		eventAbout("e-ns1", vmRef("g1", "ns1", "vm1"), "StartFailed", now),
		eventAbout("e-ns2", vmRef("g1", "ns2", "vm2"), "StartFailed", now),
		eventAbout("e-g2", vmRef("g2", "ns1", "vm1"), "StartFailed", now),
		eventAbout("e-node", api.ObjectReference{APIType: api.NodeKind.APIType, ID: "node-a"}, "NodeNotReady", now),
		eventAbout("e-group", api.ObjectReference{APIType: api.GroupKind.APIType, ID: "g1"}, "DeletionWaiting", now),
		eventAbout("e-nsobj", nsRef, "DeletionWaiting", now),
	} {
		e.put("/events/"+ev.Meta.ID, ev)
	}
	e.token("viewer", "")
	e.bind("viewer", auth.RoleViewer, "g1", "ns1")
	e.token("gviewer", "")
	e.bind("gviewer", auth.RoleViewer, "g1", "")

	for who, want := range map[string][]string{
		"viewer":  {"e-ns1", "e-nsobj"},
		"gviewer": {"e-group", "e-ns1", "e-ns2", "e-nsobj"},
		"admin":   {"e-g2", "e-group", "e-node", "e-ns1", "e-ns2", "e-nsobj"},
	} {
		code, got := e.listIDs(who, "/api/v0/events")
		for i := range got {
			got[i] = strings.Trim(got[i], "/")
		}
		slices.Sort(got)
		if code != 200 || !slices.Equal(got, want) {
			t.Errorf("%s lists %d %v, want %v", who, code, got, want)
		}
	}
	for id, want := range map[string]int{"e-ns1": 200, "e-nsobj": 200, "e-ns2": 404, "e-node": 403, "e-g2": 404, "nope": 404} {
		if code, _ := e.call("viewer", "GET", "/api/v0/events/"+id, ""); code != want {
			t.Errorf("viewer gets %s: %d, want %d", id, code, want)
		}
	}

	// A watch carries ns1's events only.
	stream := e.watchIDs(t, "viewer", "/api/v0/events?watch=true")
	admin, err := client.New(e.srv.URL, client.WithToken(e.tokens["admin"]))
	if err != nil {
		t.Fatal(err)
	}
	e.tenancy2(t, admin) // an event is created only in an existing group and namespace
	for _, ev := range []*api.Event{eventAbout("w-ns2", vmRef("g1", "ns2", "vm2"), "Crashed", now),
		eventAbout("w-ns1", vmRef("g1", "ns1", "vm1"), "Crashed", now)} {
		if _, err := admin.Create(ctx(t), ev); err != nil {
			t.Fatal(err)
		}
	}
	if got := <-stream; got != "w-ns1" {
		t.Errorf("first watch event: %s, want w-ns1 (w-ns2 is about g1/ns2)", got)
	}

	// Nodes: about a VM placed on it, yes; on another node, no (404, as
	// the VM is out of its sight); a viewer may not write events at all.
	vm := teamVM(t, "g1", "ns1", "vm1")
	vm.Meta.Annotations[api.AnnotationVirtualMachineNode] = "node-a"
	if _, err := admin.Create(ctx(t), vm); err != nil {
		t.Fatal(err)
	}
	body := func(id string) string {
		b, _ := api.Encode(eventAbout(id, vmRef("g1", "ns1", "vm1"), "Started", now))
		return string(b)
	}
	for _, c := range []struct {
		who  string
		want int
	}{{"node:node-a", 201}, {"node:node-b", 404}, {"viewer", 403}} {
		if code, msg := e.call(c.who, "POST", "/api/v0/events", body("n-"+strings.ReplaceAll(c.who, ":", "-"))); code != c.want {
			t.Errorf("%s creates an event about vm1 (on node-a): %d, want %d: %s", c.who, code, c.want, msg)
		}
	}
	if code, msg := e.call("node:node-b", "GET", "/api/v0/events/n-node-node-a", ""); code != 404 {
		t.Errorf("node-b reads node-a's event: %d, want 404: %s", code, msg)
	}
	if code, msg := e.call("node:node-a", "GET", "/api/v0/events", ""); code != 403 {
		t.Errorf("a node lists events: %d, want 403: %s", code, msg)
	}
}

// tenancy2 creates g1 with ns1 and ns2 through the API.
func (e *rbacEnv) tenancy2(t *testing.T, admin *client.Client) {
	t.Helper()
	e.c = admin
	e.tenancy("g1", "ns1", "ns2")
}

// retentionEnv is an apiserver (authorization off) with event retention
// cfg on clock now.
func retentionEnv(t *testing.T, cfg apiserver.EventRetention, now func() time.Time) (*apiserver.Server, *bolt.Store, *client.Client) {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := apiserver.New(st, apiserver.Options{Log: slog.New(slog.DiscardHandler), Events: cfg, Now: now})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() { srv.Close(); s.Close(); st.Close() })
	c, err := client.New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	// The group and namespace the test events' VM is in (eventscope.go).
	g := api.GroupKind.New()
	g.GetMeta().ID = "g"
	ns := api.NamespaceKind.New()
	ns.GetMeta().ID, ns.GetMeta().Group = "n", "g"
	for _, o := range []api.Object{g, ns} {
		if _, err := c.Create(ctx(t), o); err != nil {
			t.Fatal(err)
		}
	}
	return s, st, c
}

func storedEvents(t *testing.T, st *bolt.Store) []string {
	t.Helper()
	kvs, _, err := st.List(context.Background(), "/events/")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, kv := range kvs {
		ids = append(ids, strings.TrimPrefix(kv.Key, "/events/"))
	}
	return ids
}

// TestEventRetentionByAge: a sweep deletes the events not seen for TTL.
func TestEventRetentionByAge(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	now := t0
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s, st, c := retentionEnv(t, apiserver.EventRetention{TTL: time.Hour, Interval: time.Hour}, clock)
	for i, age := range []time.Duration{3 * time.Hour, 61 * time.Minute, 59 * time.Minute, 0} {
		if _, err := c.Create(ctx(t), eventAbout(fmt.Sprintf("e%d", i), vmRef("g", "n", "vm"), "R"+fmt.Sprint(i), t0.Add(-age))); err != nil {
			t.Fatal(err)
		}
	}
	n, err := apiserver.SweepEvents(ctx(t), s)
	if got := storedEvents(t, st); err != nil || n != 2 || !slices.Equal(got, []string{"e2", "e3"}) {
		t.Errorf("after a sweep at t0: deleted %d (%v), kept %v; want e0, e1 deleted", n, err, got)
	}
	mu.Lock()
	now = t0.Add(2 * time.Hour)
	mu.Unlock()
	if n, err := apiserver.SweepEvents(ctx(t), s); err != nil || n != 2 || len(storedEvents(t, st)) != 0 {
		t.Errorf("two hours later: deleted %d (%v), kept %v", n, err, storedEvents(t, st))
	}
}

// TestEventRetentionByCount: the store never holds more than Max events;
// the least recently seen go first.
func TestEventRetentionByCount(t *testing.T) {
	t0 := time.Now().UTC()
	_, st, c := retentionEnv(t, apiserver.EventRetention{Max: 10, Interval: time.Hour}, nil)
	most := 0
	for i := range 35 {
		ev := eventAbout(fmt.Sprintf("e%02d", i), vmRef("g", "n", "vm"), "R", t0.Add(time.Duration(i)*time.Second))
		if _, err := c.Create(ctx(t), ev); err != nil {
			t.Fatal(err)
		}
		most = max(most, len(storedEvents(t, st)))
	}
	got := storedEvents(t, st)
	if most > 10 || len(got) > 10 || len(got) < 9 {
		t.Errorf("at most %d stored, %d at the end (%v); want <= 10", most, len(got), got)
	}
	if got[len(got)-1] != "e34" || got[0] < "e25" {
		t.Errorf("kept %v, want the newest", got)
	}
}

// TestEventValidationNamesFields: the server's answer to a bad event names
// the field.
func TestEventValidationNamesFields(t *testing.T) {
	_, _, c := retentionEnv(t, apiserver.EventRetention{}, nil)
	for field, mutate := range map[string]func(*api.Event){
		"spec.type":                     func(e *api.Event) { e.Spec.Type = "Error" },
		"spec.reason":                   func(e *api.Event) { e.Spec.Reason = "start failed" },
		"spec.involvedObject.apiType":   func(e *api.Event) { e.Spec.InvolvedObject.APIType = "systemv0/nothing" },
		"spec.involvedObject.namespace": func(e *api.Event) { e.Spec.InvolvedObject.Namespace = "" },
		"spec.involvedObject.id":        func(e *api.Event) { e.Spec.InvolvedObject.ID = "Bad_ID" },
		"spec.count":                    func(e *api.Event) { e.Spec.Count = -1 },
	} {
		ev := eventAbout("bad", vmRef("g", "n", "vm"), "R", time.Now())
		mutate(ev)
		if _, err := c.Create(ctx(t), ev); !isClass(err, api.ErrInvalid) || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: %v, want invalid naming it", field, err)
		}
	}
	ev := eventAbout("good", vmRef("g", "n", "vm"), "R", time.Time{})
	ev.Spec.Count = 0
	got, err := c.Create(ctx(t), ev)
	if err != nil {
		t.Fatal(err)
	}
	if s := got.(*api.Event).Spec; s.Count != 1 || s.FirstTimestamp.IsZero() || !s.LastTimestamp.Equal(s.FirstTimestamp) {
		t.Errorf("defaults: %+v, want count 1 and both times set", s)
	}
}

// TestEventsGoWithTheirScope: removing a namespace deletes the events of
// its objects and of itself, removing a group those of everything in it;
// a node's events stay; an event about an object in a group that does not
// exist is refused (404 naming it), so none outlives its group to be seen
// by the next tenant who makes a group of that name.
func TestEventsGoWithTheirScope(t *testing.T) {
	_, st, c := retentionEnv(t, apiserver.EventRetention{}, nil)
	ns2 := api.NamespaceKind.New()
	ns2.GetMeta().ID, ns2.GetMeta().Group = "n2", "g"
	if _, err := c.Create(ctx(t), ns2); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	for _, ev := range []*api.Event{
		eventAbout("vm-n", vmRef("g", "n", "vm"), "Started", now),
		eventAbout("ns-n", api.ObjectReference{APIType: api.NamespaceKind.APIType, Group: "g", ID: "n"}, "DeletionWaiting", now),
		eventAbout("vm-n2", vmRef("g", "n2", "vm"), "Started", now),
		eventAbout("group-g", api.ObjectReference{APIType: api.GroupKind.APIType, ID: "g"}, "DeletionWaiting", now),
		eventAbout("node", api.ObjectReference{APIType: api.NodeKind.APIType, ID: "node-a"}, "NodeNotReady", now),
	} {
		if _, err := c.Create(ctx(t), ev); err != nil {
			t.Fatal(err)
		}
	}
	force := client.DeleteOptions{Force: true}
	if _, err := c.Delete(ctx(t), api.NamespaceKind, client.Scope{Group: "g"}, "n", force); err != nil {
		t.Fatal(err)
	}
	if got := storedEvents(t, st); !slices.Equal(got, []string{"group-g", "node", "vm-n2"}) {
		t.Fatalf("after namespace g/n went: %v, want group-g node vm-n2", got)
	}
	if _, err := c.Delete(ctx(t), api.NamespaceKind, client.Scope{Group: "g"}, "n2", force); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Delete(ctx(t), api.GroupKind, client.Scope{}, "g", force); err != nil {
		t.Fatal(err)
	}
	if got := storedEvents(t, st); !slices.Equal(got, []string{"node"}) {
		t.Fatalf("after group g went: %v, want the node's only", got)
	}
	_, err := c.Create(ctx(t), eventAbout("late", vmRef("g", "n", "vm"), "Stopped", now))
	if !isClass(err, api.ErrNotFound) || !strings.Contains(err.Error(), "group g") && !strings.Contains(err.Error(), "namespace g/n") {
		t.Fatalf("an event about an object of a removed group: %v, want 404 naming it", err)
	}
}

// TestNoEventOutlivesItsGroup: agents keep writing events about a group
// and its namespace while it is removed by force (its namespace left
// behind), through the API server that removes it and through a second
// one on the same store. In the store's history no event written through
// the removing server is left at the revision that removed the group
// (whoever sees it gone sees its events gone), and no event at all is left
// once the writers stop.
func TestNoEventOutlivesItsGroup(t *testing.T) {
	_, st, a := retentionEnv(t, apiserver.EventRetention{}, nil)
	s2 := apiserver.New(st, apiserver.Options{Log: slog.New(slog.DiscardHandler)})
	srv2 := httptest.NewServer(s2.Handler())
	t.Cleanup(func() { srv2.Close(); s2.Close() })
	b, err := client.New(srv2.URL)
	if err != nil {
		t.Fatal(err)
	}
	rev, err := st.Revision(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithCancel(ctx(t))
	defer cancel()
	changes, err := st.Watch(wctx, "/", rev)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w, c := range []*client.Client{a, b, a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				ref := api.ObjectReference{APIType: api.GroupKind.APIType, ID: "g"}
				if i%2 == 1 {
					ref = vmRef("g", "n", "vm")
				}
				_, err := c.Create(ctx(t), eventAbout(fmt.Sprintf("w%d-%d", w, i), ref, "DeletionWaiting", time.Now().UTC()))
				if isClass(err, api.ErrNotFound) {
					return // the group is gone
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	if _, err := b.Delete(ctx(t), api.GroupKind, client.Scope{}, "g", client.DeleteOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if left := storedEvents(t, st); len(left) != 0 {
		t.Fatalf("events of removed group g left: %v", left)
	}
	alive := map[string]bool{}
	for ch := range changes {
		key := ch.KV.Key
		switch {
		case key == "/groups/g" && ch.Type == storage.EventDelete:
			if len(alive) > 0 {
				t.Fatalf("at the revision group g was removed (%d) its events were still stored: %v", ch.KV.ModRevision, slices.Sorted(maps.Keys(alive)))
			}
			return
		case strings.HasPrefix(key, "/events/w1-"), strings.HasPrefix(key, "/events/w3-"): // through b
			alive[key] = ch.Type == storage.EventPut
			if !alive[key] {
				delete(alive, key)
			}
		}
	}
	t.Fatal("the store's watch ended before the group's removal")
}
