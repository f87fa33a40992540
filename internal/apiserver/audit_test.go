package apiserver_test

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/apiserver"
	"github.com/humstack/humstack/internal/audit"
	"github.com/humstack/humstack/internal/auth"
)

// auditSink collects the audit log in memory.
type auditSink struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *auditSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

// events parses every line so far against the documented schema.
func (s *auditSink) events(t *testing.T) []audit.Event {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	evs, err := audit.ReadAll(bytes.NewReader(s.buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// since waits until the log holds want lines after the first from, and
// makes sure no more follow: a request's line is written after its
// answer, so the test cannot just read at once.
func (s *auditSink) since(t *testing.T, from, want int) []audit.Event {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for len(s.events(t)) < from+want && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	evs := s.events(t)[from:]
	if len(evs) != want {
		t.Fatalf("%d audit lines, want %d: %+v", len(evs), want, evs)
	}
	return evs
}

// denyBad is an authenticator that refuses the bearer token "bad".
type denyBad struct{}

func (denyBad) Authenticate(r *http.Request) (*auth.Identity, bool, error) {
	if r.Header.Get("Authorization") == "Bearer bad" {
		return nil, true, fmt.Errorf("token bad: %w", api.ErrUnauthorized)
	}
	return nil, false, nil
}

func newAuditEnv(t *testing.T) (*consoleEnv, *auditSink) {
	t.Helper()
	sink := &auditSink{}
	al := audit.New(sink, audit.Options{})
	t.Cleanup(func() { al.Close() })
	return newConsoleEnvWith(t, apiserver.Options{NodeSecret: nodeSecret, Audit: al, Authenticator: denyBad{}}), sink
}

// send makes a raw request with a known request id and user agent.
func (e *consoleEnv) send(t *testing.T, method, path, reqID, body string, hdr ...string) int {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx(t), method, e.url+path, strings.NewReader(body))
	req.Header.Set("X-Request-Id", reqID)
	req.Header.Set("User-Agent", "audit-test/1")
	req.Header.Set("Content-Type", "application/yaml")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

const vmPath = "/api/v0/groups/g1/namespaces/ns1/virtualmachines"

// TestAuditLogLines: each class of request makes exactly one well-formed
// line (a console session two: start and end) with the right fields, and
// reads make none.
func TestAuditLogLines(t *testing.T) {
	e, sink := newAuditEnv(t)
	vm := audit.Object{APIType: "systemv0/virtualmachine", Group: "g1", Namespace: "ns1", ID: "vm1"}
	anon := audit.Identity{Name: "system:anonymous", Kind: "anonymous", Via: "none"}
	vmDocUpdated := strings.Replace(vmDoc("vm1", "worker1"), "requestVcpus: 1000m", "requestVcpus: 500m", 1)
	for _, tc := range []struct {
		name, method, path, body string
		hdr                      []string
		code                     int
		verb                     string
		obj                      audit.Object
		reason                   string
		lines                    int // 0: the request is not audited
	}{
		{"create", "POST", vmPath, vmDoc("vm2", "worker1"), nil, 201, "create", withID(vm, "", "vm2"), "", 1},
		{"update", "PUT", vmPath + "/vm1", vmDocUpdated, nil, 200, "update", vm, "", 1},
		{"status", "PUT", vmPath + "/vm1/status", vmDoc("vm1", "worker1") + "status: {state: Running}\n", nil, 200, "update", withID(vm, "status", "vm1"), "", 1},
		{"invalid write", "POST", vmPath, "meta: {id: Bad}", nil, 400, "create", audit.Object{APIType: vm.APIType, Group: "g1", Namespace: "ns1"}, "", 1},
		{"delete", "DELETE", vmPath + "/vm2", "", nil, 200, "delete", withID(vm, "", "vm2"), "", 1},
		{"get", "GET", vmPath + "/vm1", "", nil, 200, "", audit.Object{}, "", 0},
		{"list", "GET", vmPath, "", nil, 200, "", audit.Object{}, "", 0},
		{"missing", "GET", vmPath + "/nope", "", nil, 404, "", audit.Object{}, "", 0},
		{"401", "GET", vmPath, "", []string{"Authorization", "Bearer bad"}, 401, "list", audit.Object{APIType: vm.APIType, Group: "g1", Namespace: "ns1"}, "token bad: unauthorized", 1},
		{"401 write", "DELETE", vmPath + "/vm1", "", []string{"Authorization", "Bearer bad"}, 401, "delete", vm, "token bad: unauthorized", 1},
		{"401 unknown link", "GET", vmPath + "/vm1?link=x.y.z.AAAAAAAAAAAAAAAAAAAAAA", "", nil, 401, "get", vm, "console link revoked or unknown: unauthorized", 1},
		{"console failed", "GET", vmPath + "/vm1/serial", "", nil, 400, "console", withID(vm, "serial", "vm1"), "", 1},
		{"console log", "GET", vmPath + "/vm1/serial/log", "", nil, 200, "console", withID(vm, "serial/log", "vm1"), "", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			from := len(sink.events(t))
			reqID := "req-" + strings.ReplaceAll(tc.name, " ", "-")
			if code := e.send(t, tc.method, tc.path, reqID, tc.body, tc.hdr...); code != tc.code {
				t.Fatalf("HTTP %d, want %d", code, tc.code)
			}
			evs := sink.since(t, from, tc.lines)
			for i, ev := range evs {
				wantEvent := audit.EventRequest
				if tc.lines == 2 {
					wantEvent = []string{audit.EventConsoleStart, audit.EventConsoleEnd}[i]
				}
				path, _, _ := strings.Cut(tc.path, "?")
				if ev.Event != wantEvent || ev.RequestID != reqID || ev.Identity != anon || ev.Verb != tc.verb ||
					ev.Object != tc.obj || ev.Method != tc.method || ev.Path != path || ev.Code != tc.code ||
					!strings.HasPrefix(ev.SourceAddress, "127.0.0.1:") || ev.UserAgent != "audit-test/1" || ev.Reason != tc.reason {
					t.Errorf("line %d: %+v", i, ev)
				}
				if time.Since(ev.Time) > time.Minute || ev.Time.Location() != time.UTC {
					t.Errorf("line %d: time %v", i, ev.Time)
				}
			}
			if tc.lines == 2 && (evs[1].BytesOut != int64(len("tiny login: ")) || evs[1].DurationMs <= 0) {
				t.Errorf("console.end %+v: want the log's bytes and a duration", evs[1])
			}
		})
	}
}

func withID(o audit.Object, sub, id string) audit.Object { o.Subresource, o.ID = sub, id; return o }

// TestAuditConsoleSession: a websocket console makes a start line when the
// relay is up and an end line when it closes, with the bytes each way.
func TestAuditConsoleSession(t *testing.T) {
	e, sink := newAuditEnv(t)
	from := len(sink.events(t))
	conn, _, err := websocket.Dial(ctx(t), "ws"+strings.TrimPrefix(e.url, "http")+vmPath+"/vm1/serial",
		&websocket.DialOptions{HTTPHeader: http.Header{"X-Request-Id": {"req-serial"}, "User-Agent": {"audit-test/1"}}})
	if err != nil {
		t.Fatal(err)
	}
	readUntil(t, conn, "tiny login: ")
	start := sink.since(t, from, 1)[0]
	if start.Event != audit.EventConsoleStart || start.Code != 101 || start.Verb != "console" || start.RequestID != "req-serial" ||
		start.Object.Subresource != "serial" || start.Object.ID != "vm1" {
		t.Fatalf("start %+v", start)
	}
	if err := conn.Write(ctx(t), websocket.MessageBinary, []byte("root\n")); err != nil {
		t.Fatal(err)
	}
	readUntil(t, conn, "root\n")
	conn.Close(websocket.StatusNormalClosure, "")
	end := sink.since(t, from, 2)[1]
	if end.Event != audit.EventConsoleEnd || end.Code != 101 || end.RequestID != "req-serial" || end.BytesIn != 5 ||
		end.BytesOut < int64(len("tiny login: root\n")) || end.DurationMs <= 0 {
		t.Fatalf("end %+v", end)
	}
}
