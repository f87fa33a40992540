package apiserver_test

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/humstack/humstack/api"
)

// traceEntry is one request of the original humcli's recording and what
// the original apiserver answered (testdata/humcli-v0.3.4-trace.jsonl,
// see /work/shared/compat/README.md in the project's history).
type traceEntry struct {
	Method      string `json:"method"`
	Path        string `json:"path"`
	ContentType string `json:"contentType"`
	Body        string `json:"body"`
	Status      int    `json:"status"`
	Response    string `json:"response"`
}

func readTrace(t *testing.T) []traceEntry {
	t.Helper()
	f, err := os.Open("testdata/humcli-v0.3.4-trace.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []traceEntry
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var e traceEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("trace line %d: %v", len(out)+1, err)
		}
		out = append(out, e)
	}
	if len(out) == 0 {
		t.Fatal("empty trace")
	}
	return out
}

// dataKeys are the sorted keys of an envelope's data object (a list's
// revision stands beside data, so data holds only the kind's key).
func dataKeys(raw json.RawMessage) []string {
	var m map[string]json.RawMessage
	_ = json.Unmarshal(raw, &m)
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func ok2xx(code int) bool { return code >= 200 && code <= 299 }

// legacyNames are fields only the original's types carried with no meaning
// here: an answer must never echo them as if they had done something.
var legacyNames = []string{"resourceHash", "ipv6Address", "ipv6Prefix", "ipv6CIDR", "natRules", "dnatRules", "usedIPv4Address", `"hash"`, `"blockStorage"`}

// TestReplayOriginalHumcliTrace replays what humcli v0.3.4 sent to the
// original apiserver for the seed's examples (create, update, list, delete),
// in order, against a fresh server: every request the original accepted is
// accepted here with the same envelope key in data.
func TestReplayOriginalHumcliTrace(t *testing.T) {
	e := newEnv(t)
	accepted, want := 0, 0
	for i, te := range readTrace(t) {
		code, resp := e.do(te.Method, te.Path, te.ContentType, te.Body)
		for _, n := range legacyNames {
			if strings.Contains(string(resp.Data), n) {
				t.Errorf("#%d %s %s: the answer echoes legacy field %s: %s", i, te.Method, te.Path, n, resp.Data)
			}
		}
		if !ok2xx(te.Status) {
			if ok2xx(code) {
				t.Logf("#%d %s %s: the original refused (%d %s), here %d", i, te.Method, te.Path, te.Status, te.Response, code)
			}
			continue
		}
		want++
		if !ok2xx(code) {
			t.Errorf("#%d %s %s: the original answered %d, here %d: %s", i, te.Method, te.Path, te.Status, code, resp.Error)
			continue
		}
		var orig rawResponse
		if te.Response != "" {
			if err := json.Unmarshal([]byte(te.Response), &orig); err != nil {
				t.Fatalf("#%d: original response: %v", i, err)
			}
			if o, h := dataKeys(orig.Data), dataKeys(resp.Data); !slices.Equal(o, h) {
				t.Errorf("#%d %s %s: data keys %v, the original's %v", i, te.Method, te.Path, h, o)
				continue
			}
		}
		accepted++
	}
	t.Logf("replay: %d of the %d requests the original answered with 2xx get a 2xx here", accepted, want)
	if accepted != want || want != 53 {
		t.Fatalf("replay: %d of %d accepted (the trace has 53)", accepted, want)
	}
	// The trace's deletes took effect: the PUTs with deleteState Delete
	// removed the disks and the VM, DELETE the external IP, and the group
	// (which has the cascade finalizer and no Core agent here) waits.
	for _, p := range []string{
		"/api/v0/groups/group1/namespaces/ns1/virtualmachines/vm1",
		"/api/v0/groups/group1/namespaces/ns1/blockstorages/bs1",
		"/api/v0/externalips/eip1",
		"/api/v0/externalippools/eippool",
	} {
		if code, _ := e.do(http.MethodGet, p, "", ""); code != http.StatusNotFound {
			t.Errorf("GET %s after the trace: %d, want 404", p, code)
		}
	}
	_, g := e.do(http.MethodGet, "/api/v0/groups/group1", "", "")
	if !strings.Contains(string(g.Data), `"deleteState":"Delete"`) {
		t.Errorf("group1 after a PUT with deleteState Delete: %s", g.Data)
	}
}

// TestLegacyFieldsComeFromTheTrace: every legacy field humstack declares
// (api.LegacyFields) is one the original client really sends, so the list
// holds nothing invented; that every field it sends is accepted is what the
// replay shows.
func TestLegacyFieldsComeFromTheTrace(t *testing.T) {
	sent := map[string]bool{} // "apiType path" and "* path"
	for _, te := range readTrace(t) {
		if te.Body == "" {
			continue
		}
		var v struct {
			Meta struct {
				APIType string `json:"apiType"`
			} `json:"meta"`
		}
		if err := json.Unmarshal([]byte(te.Body), &v); err != nil {
			t.Fatal(err)
		}
		var body any
		_ = json.Unmarshal([]byte(te.Body), &body)
		for _, p := range jsonPaths(body, "") {
			sent[v.Meta.APIType+" "+p], sent["* "+p] = true, true
		}
	}
	fields := api.LegacyFields()
	if len(fields) == 0 {
		t.Fatal("no legacy fields")
	}
	for _, f := range fields {
		if !sent[f.APIType+" "+f.Path] {
			t.Errorf("legacy field %s %s is not in the trace", f.APIType, f.Path)
		}
		if f.Reason == "" {
			t.Errorf("legacy field %s %s has no legacy tag", f.APIType, f.Path)
		}
	}
	for _, honoured := range []string{"systemv0/virtualmachine spec.uuid", "systemv0/virtualmachine spec.nics[].macAddress"} {
		if !sent[honoured] {
			t.Errorf("%s is not in the trace", honoured)
		}
	}
}

// jsonPaths lists the paths of every value in v, lists as "[]".
func jsonPaths(v any, path string) []string {
	var out []string
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			p := k
			if path != "" {
				p = path + "." + k
			}
			out = append(out, p)
			out = append(out, jsonPaths(e, p)...)
		}
	case []any:
		for _, e := range x {
			out = append(out, jsonPaths(e, path+"[]")...)
		}
	}
	return out
}
