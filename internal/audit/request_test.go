package audit

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/humstack/humstack/internal/auth"
)

func TestDescribe(t *testing.T) {
	vm := Object{APIType: "systemv0/virtualmachine", Group: "g1", Namespace: "ns1", ID: "vm1"}
	for _, tc := range []struct {
		method, path string
		verb         string
		obj          Object
	}{
		{"GET", "/api/v0/groups", "list", Object{APIType: "corev0/group"}},
		{"GET", "/api/v0/groups/g1", "get", Object{APIType: "corev0/group", ID: "g1"}},
		{"DELETE", "/api/v0/groups/g1/namespaces/ns1", "delete", Object{APIType: "corev0/namespace", Group: "g1", ID: "ns1"}},
		{"POST", "/api/v0/groups/g1/namespaces", "create", Object{APIType: "corev0/namespace", Group: "g1"}},
		{"GET", "/api/v0/groups/g1/images?watch=true", "watch", Object{APIType: "systemv0/image", Group: "g1"}},
		{"PUT", "/api/v0/groups/g1/namespaces/ns1/virtualmachines/vm1", "update", vm},
		{"PUT", "/api/v0/groups/g1/namespaces/ns1/virtualmachines/vm1/status", "update", withSub(vm, "status")},
		{"GET", "/api/v0/groups/g1/namespaces/ns1/virtualmachines/vm1/ws", "console", withSub(vm, "ws")},
		{"GET", "/api/v0/groups/g1/namespaces/ns1/virtualmachines/vm1/serial", "console", withSub(vm, "serial")},
		{"GET", "/api/v0/groups/g1/namespaces/ns1/virtualmachines/vm1/serial/log", "console", withSub(vm, "serial/log")},
		{"GET", "/api/v0/virtualmachines", "list", Object{APIType: "systemv0/virtualmachine"}},
		{"GET", "/api/v0/nodes/n1", "get", Object{APIType: "systemv0/node", ID: "n1"}},
		{"PATCH", "/api/v0/nodes/n1", "patch", Object{APIType: "systemv0/node", ID: "n1"}},
		{"POST", "/api/v0/bogus", "create", Object{}},
		{"GET", "/healthz", "get", Object{}},
		{"GET", "/api/v0/groups/g1%2Fnamespaces%2Fns1/virtualmachines/vm1%2Fserial", "get", // as the routes see it
			Object{APIType: "systemv0/virtualmachine", Group: "g1/namespaces/ns1", ID: "vm1/serial"}},
	} {
		r := httptest.NewRequest(tc.method, tc.path, nil)
		verb, obj := Describe(r)
		if verb != tc.verb || obj != tc.obj {
			t.Errorf("%s %s: %s %+v, want %s %+v", tc.method, tc.path, verb, obj, tc.verb, tc.obj)
		}
	}
}

func withSub(o Object, sub string) Object { o.Subresource = sub; return o }

// TestWhatIsAudited: writes, denials (by status or by Deny) and failed
// console attempts make one line; successful reads make none; a started
// console session makes start and end and no request line.
func TestWhatIsAudited(t *testing.T) {
	alice := &auth.Identity{Name: "alice", Kind: auth.KindUser, Via: "token"}
	for _, tc := range []struct {
		name, method, path string
		code               int
		deny, console      bool
		want               []string
	}{
		{"read", "GET", "/api/v0/groups/g1", 200, false, false, nil},
		{"list", "GET", "/api/v0/groups", 200, false, false, nil},
		{"missing", "GET", "/api/v0/groups/g9", 404, false, false, nil},
		{"create", "POST", "/api/v0/groups", 201, false, false, []string{EventRequest}},
		{"failed write", "PUT", "/api/v0/groups/g1", 400, false, false, []string{EventRequest}},
		{"delete", "DELETE", "/api/v0/groups/g1", 200, false, false, []string{EventRequest}},
		{"401", "GET", "/api/v0/groups", 401, false, false, []string{EventRequest}},
		{"403", "GET", "/api/v0/groups/g1", 403, false, false, []string{EventRequest}},
		{"hidden 404", "GET", "/api/v0/groups/g1", 404, true, false, []string{EventRequest}},
		{"console failed", "GET", "/api/v0/groups/g/namespaces/n/virtualmachines/v/serial", 503, false, false, []string{EventRequest}},
		{"console", "GET", "/api/v0/groups/g/namespaces/n/virtualmachines/v/serial", 101, false, true, []string{EventConsoleStart, EventConsoleEnd}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink := &memSink{}
			l := New(sink, Options{Log: quiet()})
			r := httptest.NewRequest(tc.method, tc.path, nil)
			r.Header.Set("User-Agent", "test/1")
			ctx, a := l.Begin(context.Background(), r, "req1")
			a.SetIdentity(alice)
			if tc.deny {
				Deny(ctx, "hidden")
			}
			if tc.console {
				StartConsole(ctx, tc.code).End(5, 7)
			}
			a.End(tc.code)
			l.Close()
			evs := sink.events(t)
			if len(evs) != len(tc.want) {
				t.Fatalf("%d lines %+v, want %v", len(evs), evs, tc.want)
			}
			for i, e := range evs {
				if e.Event != tc.want[i] || e.Identity.Name != "alice" || e.RequestID != "req1" || e.UserAgent != "test/1" ||
					e.Code != tc.code || e.SourceAddress != r.RemoteAddr {
					t.Errorf("line %d: %+v", i, e)
				}
			}
			if tc.console && (evs[1].BytesIn != 5 || evs[1].BytesOut != 7) {
				t.Errorf("console.end %+v, want 5 bytes in, 7 out", evs[1])
			}
		})
	}
	// The log off: every call is a no-op.
	var l *Logger
	ctx, a := l.Begin(context.Background(), httptest.NewRequest("POST", "/api/v0/groups", nil), "x")
	a.SetIdentity(alice)
	Deny(ctx, "x")
	StartConsole(ctx, 101).End(1, 1)
	a.End(http.StatusCreated)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestClientFieldsAreBounded: a request with huge headers and path still
// makes a line of a few KiB.
func TestClientFieldsAreBounded(t *testing.T) {
	sink := &memSink{}
	l := New(sink, Options{Log: quiet()})
	r := httptest.NewRequest("POST", "/api/v0/groups/"+strings.Repeat("g", 100000), nil)
	r.Header.Set("User-Agent", strings.Repeat("u", 100000))
	r.Header.Set("X-Forwarded-For", strings.Repeat("x", 100000))
	_, a := l.Begin(context.Background(), r, "req")
	a.End(400)
	l.Close()
	if n := sink.buf.Len(); n > 4096 || len(sink.events(t)) != 1 {
		t.Fatalf("a %d-byte line", n)
	}
}
