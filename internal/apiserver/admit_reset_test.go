package apiserver_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/apiserver"
	"github.com/humstack/humstack/internal/audit"
	"github.com/humstack/humstack/internal/auth"
)

// resetEnv is an RBAC apiserver with environment e1 of group g1, whose
// copies "0" and "1" are namespaces e1-0 and e1-1, a plain namespace
// plain, and a clock the test moves.
type resetEnv struct {
	*rbacEnv
	sink *auditSink
	mu   sync.Mutex
	now  time.Time
}

func newResetEnv(t *testing.T, interval time.Duration) *resetEnv {
	t.Helper()
	r := &resetEnv{sink: &auditSink{}, now: time.Now()}
	al := audit.New(r.sink, audit.Options{})
	t.Cleanup(func() { al.Close() })
	r.rbacEnv = newRBACEnvOpts(t, al, false, func(o *apiserver.Options) {
		o.ResetInterval, o.Now = interval, r.clock
	})
	g := api.GroupKind.New().(*api.Group)
	g.Meta.ID = "g1"
	r.put("/groups/g1", g)
	for _, ns := range []struct{ id, copy string }{{"e1-0", "0"}, {"e1-1", "1"}, {"plain", ""}} {
		n := api.NamespaceKind.New().(*api.Namespace)
		n.Meta.ID, n.Meta.Group = ns.id, "g1"
		if ns.copy != "" {
			n.Meta.Annotations = map[string]string{api.AnnotationEnvironment: "e1", api.AnnotationEnvironmentCopy: ns.copy}
		}
		r.put("/namespaces/g1/"+ns.id, n)
	}
	env := api.EnvironmentKind.New().(*api.Environment)
	env.Meta.ID, env.Meta.Group, env.Spec.TemplateID, env.Spec.Count = "e1", "g1", "t1", 2
	r.put("/environments/g1/e1", env)
	for _, who := range []string{"team0", "team1", "teacher"} {
		r.token(who, "")
	}
	r.bind("team0", auth.RoleOperator, "g1", "e1-0")
	r.bind("team1", auth.RoleOperator, "g1", "e1-1")
	r.bind("teacher", auth.RoleGroupAdmin, "g1", "")
	return r
}

func (r *resetEnv) clock() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.now
}

func (r *resetEnv) advance(d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.now = r.now.Add(d)
}

// reset asks, as who, for reset id in namespace ns with spec.
func (r *resetEnv) reset(who, ns, id, spec string) (int, string) {
	r.t.Helper()
	body := `{"meta":{"apiType":"corev0/reset","id":"` + id + `"},"spec":{` + spec + `}}`
	return r.call(who, "POST", "/api/v0/groups/g1/namespaces/"+ns+"/resets", body)
}

// finish marks reset id of namespace ns Succeeded (the controller's part).
func (r *resetEnv) finish(ns, id string) {
	r.t.Helper()
	key := "/resets/g1/" + ns + "/" + id
	kv, err := r.store.Get(context.Background(), key)
	if err != nil {
		r.t.Fatal(err)
	}
	var res api.Reset
	if err := json.Unmarshal(kv.Value, &res); err != nil {
		r.t.Fatal(err)
	}
	res.Status.Phase = api.ResetSucceeded
	data, _ := api.Encode(&res)
	if _, err := r.store.Update(context.Background(), key, data, kv.ModRevision); err != nil {
		r.t.Fatal(err)
	}
}

func expect(t *testing.T, what string, code int, body string, want int, words ...string) {
	t.Helper()
	if code != want {
		t.Fatalf("%s: HTTP %d, want %d: %s", what, code, want, body)
	}
	for _, w := range words {
		if !strings.Contains(body, w) {
			t.Errorf("%s: answer does not say %q: %s", what, w, body)
		}
	}
}

// TestResetAdmissionTeam: a team's operator resets its own copy, at
// priority 0 and at once, one reset at a time and not more often than the
// interval; it cannot touch another team's copy.
func TestResetAdmissionTeam(t *testing.T) {
	r := newResetEnv(t, 30*time.Second)
	code, body := r.reset("team0", "e1-0", "r1", `"priority":5`)
	expect(t, "priority", code, body, http.StatusForbidden, "spec.priority")
	code, body = r.reset("team0", "e1-0", "r1", `"at":"2030-01-01T00:00:00Z"`)
	expect(t, "at", code, body, http.StatusForbidden, "spec.at")
	code, body = r.reset("team0", "e1-1", "r1", ``)
	expect(t, "another team's copy (hidden)", code, body, http.StatusNotFound)
	code, body = r.reset("team0", "e1-0", "r1", `"cold":true`)
	expect(t, "first reset", code, body, http.StatusCreated)
	code, body = r.reset("team0", "e1-0", "r2", ``)
	expect(t, "while r1 is unfinished", code, body, http.StatusTooManyRequests, "r1", "not finished")
	r.finish("e1-0", "r1")
	r.advance(10 * time.Second)
	code, body = r.reset("team0", "e1-0", "r2", ``)
	expect(t, "10 s after r1", code, body, http.StatusTooManyRequests, "retry at", "30s")
	// Another copy has its own limit.
	code, body = r.reset("team1", "e1-1", "r1", ``)
	expect(t, "team1's first", code, body, http.StatusCreated)
	r.advance(21 * time.Second)
	code, body = r.reset("team0", "e1-0", "r2", ``)
	expect(t, "31 s after r1", code, body, http.StatusCreated)
}

// TestResetAdmissionGroupAdmin: whoever may change the environment (a
// group-admin, the Core agent) sets priority and at and is not
// rate-limited; nobody resets a namespace that
// is not a copy.
func TestResetAdmissionGroupAdmin(t *testing.T) {
	r := newResetEnv(t, 30*time.Second)
	code, body := r.reset("teacher", "e1-0", "r1", `"priority":5,"at":"2030-01-01T00:00:00Z"`)
	expect(t, "teacher's scheduled reset", code, body, http.StatusCreated)
	code, body = r.reset("teacher", "e1-0", "r2", `"priority":900`)
	expect(t, "teacher's second reset", code, body, http.StatusCreated)
	// The Core agent's scheduled resets (spec.resetEvery) are not held.
	r.bindNode("node-c", auth.RoleCoreAgent)
	code, body = r.reset("node:node-c", "e1-0", "scheduled", `"priority":10`)
	expect(t, "the Core agent's scheduled reset", code, body, http.StatusCreated)
	for _, who := range []string{"teacher", "admin"} {
		code, body = r.reset(who, "plain", "r1", ``)
		expect(t, who+" in a namespace that is no copy", code, body, http.StatusBadRequest, "meta.namespace", "not a copy")
	}
	// The team's operator is held back by the teacher's unfinished one.
	code, body = r.reset("team0", "e1-0", "r3", ``)
	expect(t, "team behind the teacher's resets", code, body, http.StatusTooManyRequests)
}

// TestResetAdmissionAudited: the audit log records who asked for a reset,
// granted or refused by the rate limit.
func TestResetAdmissionAudited(t *testing.T) {
	r := newResetEnv(t, 30*time.Second)
	from := len(r.sink.events(t))
	code, body := r.reset("team0", "e1-0", "r1", ``)
	expect(t, "reset", code, body, http.StatusCreated)
	code, body = r.reset("team0", "e1-0", "r2", ``)
	expect(t, "second reset", code, body, http.StatusTooManyRequests)
	evs := r.sink.since(t, from, 2)
	for i, want := range []struct {
		id   string
		code int
	}{{"r1", 201}, {"r2", 429}} {
		ev := evs[i]
		obj := audit.Object{APIType: api.ResetKind.APIType, Group: "g1", Namespace: "e1-0", ID: want.id}
		if ev.Identity.Name != "team0" || ev.Verb != auth.VerbCreate || ev.Object != obj || ev.Code != want.code {
			t.Errorf("audit line %d: %+v, want team0 creating %+v answered %d", i, ev, obj, want.code)
		}
	}
}
