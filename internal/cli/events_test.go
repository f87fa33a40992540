package cli

import (
	"strings"
	"testing"
)

const eventDocs = `
meta: {apiType: corev0/group, id: group1}
---
meta: {apiType: corev0/namespace, id: ns1, group: group1}
---
meta: {apiType: corev0/namespace, id: ns2, group: group1}
---
meta: {apiType: corev0/event, id: e-late}
spec:
  type: Warning
  reason: DownloadFailed
  message: "download http://x/y.img: HTTP 404 Not Found"
  involvedObject: {apiType: systemv0/blockstorage, group: group1, namespace: ns1, id: bs1}
  firstTimestamp: "2026-01-01T10:00:00Z"
  lastTimestamp: "2026-01-01T10:05:00Z"
  count: 7
---
meta: {apiType: corev0/event, id: e-early}
spec:
  type: Normal
  reason: Downloading
  message: "downloading http://x/y.img"
  involvedObject: {apiType: systemv0/blockstorage, group: group1, namespace: ns1, id: bs1}
  lastTimestamp: "2026-01-01T10:00:00Z"
---
meta: {apiType: corev0/event, id: e-node}
spec:
  type: Warning
  reason: NodeNotReady
  involvedObject: {apiType: systemv0/node, id: node-a}
  lastTimestamp: "2026-01-01T10:01:00Z"
---
meta: {apiType: corev0/event, id: e-other}
spec:
  type: Normal
  reason: Started
  involvedObject: {apiType: systemv0/virtualmachine, group: group1, namespace: ns2, id: bs1}
  lastTimestamp: "2026-01-01T10:02:00Z"
`

func TestGetEvents(t *testing.T) {
	e := newEnv(t)
	e.runStdin(eventDocs, "create", "-f", "-")
	r := e.mustRun("get", "events")
	rows := lines(r.stdout)
	if len(rows) != 5 || !strings.HasPrefix(rows[0], "LAST SEEN") ||
		!strings.Contains(rows[0], "TYPE") || !strings.Contains(rows[0], "COUNT") || !strings.Contains(rows[0], "MESSAGE") {
		t.Fatalf("get events:\n%s", r.stdout)
	}
	order := []string{"Downloading", "NodeNotReady", "Started", "DownloadFailed"}
	for i, reason := range order {
		if !strings.Contains(rows[i+1], reason) {
			t.Errorf("row %d is not %s (by last time seen):\n%s", i+1, reason, r.stdout)
		}
	}
	if !strings.Contains(rows[4], "blockstorage/group1/ns1/bs1") || !strings.Contains(rows[4], " 7 ") ||
		!strings.Contains(rows[4], "HTTP 404") {
		t.Errorf("row %q lacks the object, count or message", rows[4])
	}

	r = e.mustRun("--g", "group1", "--n", "ns1", "get", "events", "--for", "bs/bs1")
	if rows := lines(r.stdout); len(rows) != 3 || strings.Contains(r.stdout, "Started") {
		t.Errorf("--for bs/bs1 in group1/ns1:\n%s", r.stdout)
	}
	r = e.mustRun("get", "events", "--for", "node/node-a", "-o", "json")
	if !strings.Contains(r.stdout, `"reason": "NodeNotReady"`) || strings.Contains(r.stdout, "Downloading") {
		t.Errorf("--for node/node-a -o json:\n%s", r.stdout)
	}
	r = e.run("--g", "group1", "--n", "ns9", "get", "events", "--for", "bs/bs1")
	if r.code != 0 || r.stdout != "" || !strings.Contains(r.stderr, "No events found for blockstorage/group1/ns9/bs1") {
		t.Errorf("no events: %v", r)
	}
	for _, args := range [][]string{{"get", "vm", "--for", "vm/vm1"}, {"get", "events", "--for", "vm"}, {"get", "events", "--for", "nope/x"}} {
		if r := e.run(args...); r.code != 1 || len(lines(r.stderr)) != 1 {
			t.Errorf("%v: want one error line, got %v", args, r)
		}
	}
}
