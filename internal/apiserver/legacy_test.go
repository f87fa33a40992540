package apiserver_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// Bodies in the original humcli's wire format: every field sent, empty
// ones included. EXTRA is replaced per case.
const (
	origPool = `{"meta":{"id":"p1","name":"","namespace":"","group":"","annotations":{},"labels":{},"resourceHash":"","deleteState":"","apiType":"corev0/externalippool","ownerReferences":[]},
"spec":{"ipv4CIDR":"192.168.10.0/24","ipv6CIDR":"","bridgeName":"exBr","defaultGateway":"192.168.10.254"EXTRA},"status":{"usedIPv4Address":null,"usedIPv6Address":null}}`
	origEIP = `{"meta":{"id":"e1","name":"","namespace":"n1","group":"g1","annotations":{},"labels":{},"resourceHash":"","deleteState":"","apiType":"corev0/externalip","ownerReferences":[]},
"spec":{"poolID":"p1","ipv4Address":"192.168.10.100","ipv4Prefix":24,"ipv6Address":"","ipv6Prefix":0EXTRA}}`
	origRouter = `{"meta":{"id":"r1","namespace":"n1","group":"g1","annotations":{"virtualrouterv0/node_name":"w2"},"resourceHash":"","deleteState":"","apiType":"systemv0/virtualrouter","ownerReferences":[]},
"spec":{"externalGateway":"192.168.10.254","externalIPs":[],"natGatewayIP":"192.168.10.200","nics":[{"networkID":"net1","ipv4Address":"10.0.0.254/24"}],"natRules":null,"dnatRules":nullEXTRA},"status":{"state":""}}`
	origEntity = `{"meta":{"id":"ie1","name":"","group":"g1","annotations":{},"resourceHash":"","deleteState":"","apiType":"systemv0/imageentity","ownerReferences":[]},
"spec":{"hash":"","source":{"namespace":"n1","blockStorageID":"bs1"}EXTRA},"status":{"state":""}}`
	origDisk = `{"meta":{"id":"bs1","namespace":"n1","group":"g1","annotations":{"blockstoragev0/node_name":"w1","blockstoragev0/type":"Local"},"resourceHash":"","deleteState":"","apiType":"systemv0/blockstorage","ownerReferences":[]},
"spec":{"requestSize":"1G","limitSize":"10G","from":{"type":"HTTP","baseImage":{"imageName":"","tag":""},"blockStorage":{"name":""},"http":{"url":"http://192.0.2.1/x.img"}EXTRA}},"status":{"state":""}}`
	origVM = `{"meta":{"id":"vm1","name":"virtualmachine1","namespace":"n1","group":"g1","annotations":{"virtualmachinev0/node_name":"w1"},"labels":{},"resourceHash":"","deleteState":"","apiType":"systemv0/virtualmachine","ownerReferences":[]},
"spec":{"uuid":"","hostname":"","requestVcpus":"1000m","limitVcpus":"1000m","requestMemory":"1G","limitMemory":"1G","blockStorageIDs":["bs1"],
"nics":[{"networkID":"net1","macAddress":"","ipv4Address":"10.0.0.1","ipv6Address":"","nameservers":["8.8.8.8"],"defaultGateway":"10.0.0.254"}],"loginUsers":[],"actionState":"PowerOn"EXTRA},"status":{"state":""}}`
)

const nsBase = "/api/v0/groups/g1/namespaces/n1"

func with(body, old, new string) string { return strings.Replace(body, old, new, 1) }

func extra(body, e string) string { return strings.Replace(body, "EXTRA", e, 1) }

// TestLegacyFieldsAskingForTheUnsupportedAre400 covers each field of the
// original's types that asks for something humstack does not do: an empty
// value passes (the other tests), a set one is a 400 naming the field, and
// nothing is stored. Misspelt fields stay unknown, with a hint.
func TestLegacyFieldsAskingForTheUnsupportedAre400(t *testing.T) {
	e := newEnv(t)
	e.tenancy("g1", "n1")
	cases := []struct {
		name, path, body, field, detail string
	}{
		{"pool ipv6CIDR", "/api/v0/externalippools", with(origPool, `"ipv6CIDR":""`, `"ipv6CIDR":"fd00::/64"`), "spec.ipv6CIDR", "not supported"},
		{"external ipv6Address", nsBase + "/externalips", with(origEIP, `"ipv6Address":""`, `"ipv6Address":"fd00::1"`), "spec.ipv6Address", "not supported"},
		{"external ipv6Prefix", nsBase + "/externalips", with(origEIP, `"ipv6Prefix":0`, `"ipv6Prefix":64`), "spec.ipv6Prefix", "not supported"},
		{"router natRules", nsBase + "/virtualrouters", with(origRouter, `"natRules":null`, `"natRules":[{"x":1}]`), "spec.natRules", "not supported"},
		{"router dnatRules", nsBase + "/virtualrouters", with(origRouter, `"dnatRules":null`, `"dnatRules":[{"x":1}]`), "spec.dnatRules", "not supported"},
		{"image entity hash", "/api/v0/groups/g1/imageentities", with(origEntity, `"hash":""`, `"hash":"abc"`), "spec.hash", "not supported"},
		{"disk from a disk", nsBase + "/blockstorages", with(origDisk, `"blockStorage":{"name":""}`, `"blockStorage":{"name":"bs0"}`), "spec.from.blockStorage.name", "not supported"},
		{"disk with a second source", nsBase + "/blockstorages", with(origDisk, `"imageName":""`, `"imageName":"ubuntu"`), "spec.from.baseImage", "must not be set"},
		{"vm nic ipv6Address", nsBase + "/virtualmachines", with(origVM, `"ipv6Address":""`, `"ipv6Address":"fd00::5"`), "spec.nics[0].ipv6Address", "not supported"},
		{"vm multicast MAC", nsBase + "/virtualmachines", with(origVM, `"macAddress":""`, `"macAddress":"01:00:5e:00:00:01"`), "spec.nics[0].macAddress", "multicast"},
		{"vm malformed MAC", nsBase + "/virtualmachines", with(origVM, `"macAddress":""`, `"macAddress":"52:54:00:zz:00:01"`), "spec.nics[0].macAddress", "not a MAC address"},
		{"vm zero MAC", nsBase + "/virtualmachines", with(origVM, `"macAddress":""`, `"macAddress":"00:00:00:00:00:00"`), "spec.nics[0].macAddress", "all-zero"},
		{"vm MAC twice", nsBase + "/virtualmachines", with(origVM, `"nics":[{"networkID":"net1","macAddress":""`,
			`"nics":[{"networkID":"net2","macAddress":"52:54:00:00:00:01"},{"networkID":"net1","macAddress":"52:54:00:00:00:01"`), "spec.nics[1].macAddress", "duplicate"},
		{"vm malformed uuid", nsBase + "/virtualmachines", with(origVM, `"uuid":""`, `"uuid":"1234"`), "spec.uuid", "not a UUID"},
		{"typo in a legacy field", nsBase + "/virtualmachines", with(origVM, `"macAddress":""`, `"macAdress":""`), "spec.nics[0].macAdress", `did you mean "macAddress"`},
		{"typo in meta", nsBase + "/virtualmachines", with(origVM, `"resourceHash":""`, `"resourceHsh":""`), "meta.resourceHsh", `did you mean "resourceHash"`},
		{"unknown field", nsBase + "/virtualmachines", extra(origVM, `,"ipv6Gateway":""`), "spec.ipv6Gateway", "unknown field"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := e.revision()
			status, r := e.do(http.MethodPost, c.path, "application/json", strings.Replace(c.body, "EXTRA", "", 1))
			if status != http.StatusBadRequest || r.Reason != "Invalid" {
				t.Fatalf("status %d %s (%s), want 400", status, r.Reason, r.Error)
			}
			t.Log(r.Error)
			found := false
			for _, f := range r.Fields {
				found = found || f.Field == c.field
			}
			if !found || !strings.Contains(r.Error, c.field+": ") || !strings.Contains(r.Error, c.detail) {
				t.Fatalf("error %q (fields %+v): want %s named with %q", r.Error, r.Fields, c.field, c.detail)
			}
			if after := e.revision(); after != before {
				t.Fatalf("store revision moved %d -> %d", before, after)
			}
		})
	}
}

// TestLegacyFieldsRoundTrip: the original's bodies are accepted, what means
// something here (uuid, macAddress) is kept, what does not is never echoed,
// and our own output PUT back changes nothing.
func TestLegacyFieldsRoundTrip(t *testing.T) {
	e := newEnv(t)
	e.tenancy("g1", "n1")
	vm := with(with(origVM, `"uuid":""`, `"uuid":"5f0c1a2e-8b4d-4c6e-9f3a-1b2c3d4e5f60"`), `"macAddress":""`, `"macAddress":"00:16:3e:0a:0b:0c"`)
	// A hash the original server computed is accepted with any value.
	vm = with(vm, `"resourceHash":""`, `"resourceHash":"4f6a1c"`)
	for _, c := range []struct{ path, body string }{
		{"/api/v0/externalippools", extra(origPool, "")},
		{nsBase + "/externalips", extra(origEIP, "")},
		{nsBase + "/virtualrouters", extra(origRouter, "")},
		{"/api/v0/groups/g1/imageentities", extra(origEntity, "")},
		{nsBase + "/blockstorages", extra(origDisk, "")},
		{nsBase + "/virtualmachines", extra(vm, "")},
	} {
		status, r := e.do(http.MethodPost, c.path, "application/json", c.body)
		if status != http.StatusCreated {
			t.Fatalf("POST %s: %d %s", c.path, status, r.Error)
		}
		for _, n := range legacyNames {
			if strings.Contains(string(r.Data), n) {
				t.Errorf("POST %s echoes %s: %s", c.path, n, r.Data)
			}
		}
	}
	path := nsBase + "/virtualmachines/vm1"
	_, got := e.do(http.MethodGet, path, "", "")
	for _, want := range []string{`"uuid":"5f0c1a2e-8b4d-4c6e-9f3a-1b2c3d4e5f60"`, `"macAddress":"00:16:3e:0a:0b:0c"`} {
		if !strings.Contains(string(got.Data), want) {
			t.Errorf("GET lacks %s: %s", want, got.Data)
		}
	}
	_, disk := e.do(http.MethodGet, nsBase+"/blockstorages/bs1", "", "")
	if strings.Contains(string(disk.Data), "baseImage") {
		t.Errorf("the empty baseImage section of an HTTP disk was stored: %s", disk.Data)
	}
	// Our own output, PUT back as it is (with its resourceVersion).
	obj := strings.TrimSuffix(strings.TrimPrefix(string(got.Data), `{"virtualmachine":`), "}")
	before := e.revision()
	if status, r := e.do(http.MethodPut, path, "application/json", obj); status != http.StatusOK {
		t.Fatalf("PUT of GET's output: %d %s", status, r.Error)
	}
	if after := e.revision(); after != before {
		t.Errorf("PUT of an unchanged object wrote (revision %d -> %d)", before, after)
	}
}

// TestOriginalUpdatesAndDeletes: a full-object PUT without resourceVersion
// is an unconditional update, a stale resourceVersion is still 409, and a
// PUT with deleteState Delete deletes.
func TestOriginalUpdatesAndDeletes(t *testing.T) {
	e := newEnv(t)
	e.tenancy("g1", "n1")
	path := nsBase + "/externalips/e1"
	if status, r := e.do(http.MethodPost, nsBase+"/externalips", "application/json", extra(origEIP, "")); status != http.StatusCreated {
		t.Fatalf("create: %d %s", status, r.Error)
	}
	_, first := e.do(http.MethodGet, path, "", "")
	changed := with(extra(origEIP, ""), `"ipv4Address":"192.168.10.100"`, `"ipv4Address":"192.168.10.101"`)
	if status, r := e.do(http.MethodPut, path, "application/json", changed); status != http.StatusOK || !strings.Contains(string(r.Data), "192.168.10.101") {
		t.Fatalf("PUT without resourceVersion: %d %s %s", status, r.Error, r.Data)
	}
	stale := strings.TrimSuffix(strings.TrimPrefix(string(first.Data), `{"externalip":`), "}")
	if status, r := e.do(http.MethodPut, path, "application/json", stale); status != http.StatusConflict || r.Reason != "Conflict" {
		t.Fatalf("PUT with a stale resourceVersion: %d %s", status, r.Error)
	}
	del := with(extra(origEIP, ""), `"deleteState":""`, `"deleteState":"Delete"`)
	if status, r := e.do(http.MethodPut, path, "application/json", del); status != http.StatusOK || !strings.Contains(string(r.Data), `"deleteState":"Done"`) {
		t.Fatalf("PUT with deleteState Delete: %d %s %s", status, r.Error, r.Data)
	}
	if status, _ := e.do(http.MethodGet, path, "", ""); status != http.StatusNotFound {
		t.Fatalf("after PUT with deleteState Delete: GET %d", status)
	}
	// A namespace has the cascade finalizer: the PUT marks it.
	ns := `{"meta":{"id":"n1","name":"","namespace":"","group":"g1","annotations":{},"labels":{},"resourceHash":"","deleteState":"Delete","apiType":"corev0/namespace","ownerReferences":[]},"spec":{}}`
	if status, r := e.do(http.MethodPut, "/api/v0/groups/g1/namespaces/n1", "application/json", ns); status != http.StatusOK || !strings.Contains(string(r.Data), `"deleteState":"Delete"`) {
		t.Fatalf("namespace PUT with deleteState Delete: %d %s %s", status, r.Error, r.Data)
	}
}

// TestUnroutedPathsAnswerWithTheEnvelope: no plain-text 404 or 405.
func TestUnroutedPathsAnswerWithTheEnvelope(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		method, path string
		status       int
	}{
		{http.MethodGet, "/nope", 404},
		{http.MethodGet, "/api/v0/nosuchkinds", 404},
		{http.MethodGet, "/api/v0/groups/g1/namespaces/n1/virtualmachines/vm1/nope", 404},
		{http.MethodPatch, "/api/v0/groups", 405},
		{http.MethodDelete, "/api/v0/groups", 405},
	} {
		status, r := e.do(c.method, c.path, "", "")
		if status != c.status || string(r.Data) != "null" || !strings.Contains(r.Error, c.path) {
			t.Errorf("%s %s: %d %q data %s", c.method, c.path, status, r.Error, r.Data)
		}
	}
	req, _ := http.NewRequest(http.MethodPatch, e.srv.URL+"/api/v0/groups", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if allow := resp.Header.Get("Allow"); !strings.Contains(allow, "GET") || !strings.Contains(allow, "POST") {
		t.Errorf("405 Allow %q", allow)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("405 Content-Type %q", ct)
	}
}
