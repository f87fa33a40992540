package cli

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/humstack/humstack/api"
)

// TestConsoleLinkCommand: console-link makes a link whose URLs carry a
// working token (the server recognizes it: 403 outside its VM's console,
// not 401), lists it, and revokes it (then 401).
func TestConsoleLinkCommand(t *testing.T) {
	e := newEnv(t)
	e.mustRun("create", "-f", "../../examples/seed/")
	r := e.run("console-link", "nosuchvm", "-g", "group1", "-n", "namespace1")
	if r.code != 1 || !strings.Contains(r.stderr, "virtualmachine group1/namespace1/nosuchvm not found") {
		t.Fatalf("missing VM: %v", r)
	}
	vm := seedVM(t)
	r = e.mustRun("console-link", vm.ID, "--ttl", "2h", "-g", vm.Group, "-n", vm.Namespace)
	m := regexp.MustCompile(`(?m)^consolelink (\S+) opens virtualmachine \S+ until (\S+)\nserial: (ws://\S+/serial\?link=\S+)\nvnc: +(ws://\S+/ws\?link=\S+)\nlog: +(http://\S+/serial/log\?link=(\S+))\n`).
		FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("output:\n%s", r.stdout)
	}
	id, logURL, token := m[1], m[5], m[6]
	if !strings.HasPrefix(id, vm.ID+"-") || !strings.Contains(r.stdout, "--revoke "+id) {
		t.Fatalf("link id %q in %s", id, r.stdout)
	}
	if !strings.Contains(r.stdout, "\nui:     http://"+e.host+":"+e.port+"/ui/#/link/"+token+"\n") {
		t.Fatalf("no web console URL in:\n%s", r.stdout)
	}
	if code := status(t, strings.Replace(logURL, "/serial/log?", "?", 1)); code != http.StatusOK {
		t.Fatalf("the VM itself with the link: HTTP %d, want 200", code)
	}
	rest := strings.Replace(logURL, "/virtualmachines/"+vm.ID+"/serial/log?", "/networks?", 1) // another kind
	if code := status(t, rest); code != http.StatusForbidden {
		t.Fatalf("REST with the link: HTTP %d, want 403", code)
	}
	r = e.mustRun("console-link", "--list", "-g", vm.Group, "-n", vm.Namespace)
	if !regexp.MustCompile(`(?m)^` + id + ` +` + vm.ID + ` +false +\S+ +active$`).MatchString(r.stdout) {
		t.Fatalf("list:\n%s", r.stdout)
	}
	if r = e.mustRun("console-link", "--list", "other", "-g", vm.Group, "-n", vm.Namespace); strings.Contains(r.stdout, id) {
		t.Fatalf("list of another VM shows the link:\n%s", r.stdout)
	}
	e.mustRun("console-link", "--revoke", id, "-g", vm.Group, "-n", vm.Namespace)
	if code := status(t, rest); code != http.StatusUnauthorized {
		t.Fatalf("revoked: HTTP %d, want 401", code)
	}
	if r = e.mustRun("console-link", "--list", "-g", vm.Group, "-n", vm.Namespace); strings.Contains(r.stdout, id) {
		t.Fatalf("revoked link still listed:\n%s", r.stdout)
	}
	if strings.Contains(r.stdout, token) {
		t.Fatal("the list shows the token")
	}
	// A team's link: every VM of the namespace, with power.
	r = e.mustRun("console-link", "--all", "--power", "-g", vm.Group, "-n", vm.Namespace)
	m = regexp.MustCompile(`(?m)^consolelink (all-\S+) opens every virtualmachine of \S+ \(and powers them on and off\) until \S+\n` +
		`serial: ws://\S+/virtualmachines/VM/serial\?link=(\S+) \(any VM of the namespace\)\nui: +http://\S+/ui/#/link/(\S+)\n`).FindStringSubmatch(r.stdout)
	if m == nil || m[2] != m[3] {
		t.Fatalf("--all output:\n%s", r.stdout)
	}
	power := "http://" + e.host + ":" + e.port + "/api/v0/groups/" + vm.Group + "/namespaces/" + vm.Namespace + "/virtualmachines/" + vm.ID + "?link=" + m[2]
	if code := status(t, power); code != http.StatusOK {
		t.Fatalf("the team link reading %s: HTTP %d", vm.ID, code)
	}
	r = e.mustRun("console-link", "--list", "-g", vm.Group, "-n", vm.Namespace)
	if !regexp.MustCompile(`(?m)^` + m[1] + ` +\(all\) +true +\S+ +active$`).MatchString(r.stdout) {
		t.Fatalf("list:\n%s", r.stdout)
	}
	for _, args := range [][]string{{"console-link"}, {"console-link", "a", "b"}, {"console-link", "vm", "--ttl", "0s"},
		{"console-link", "--revoke", "x", "vm"}, {"console-link", "--all", "vm"}, {"console-link", "--all", "--revoke", "x"}} {
		if r := e.run(args...); r.code != 1 || len(lines(r.stderr)) != 1 {
			t.Errorf("%v: %v", args, r)
		}
	}
}

func status(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// seedVM is the meta of the seed's virtual machine.
func seedVM(t *testing.T) *api.Meta {
	t.Helper()
	for _, o := range seedObjects(t) {
		if o.GetMeta().APIType == api.VirtualMachineKind.APIType {
			return o.GetMeta()
		}
	}
	t.Fatal("the seed has no virtual machine")
	return nil
}

// TestConsoleThroughALink: what a team does with the URL it was given:
// console --link URL attaches (input from a pipe), --log prints the log,
// and after revocation it fails with one line saying so.
func TestConsoleThroughALink(t *testing.T) {
	e, serial := newConsoleEnv(t)
	r := e.mustRun("console-link", "vm1", "--ttl", "10m", "--g", "g1", "--n", "ns1")
	m := regexp.MustCompile(`(?m)^consolelink (\S+) .*\nserial: (\S+)\nvnc: +(\S+)\nlog: +(\S+)$`).FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("output:\n%s", r.stdout)
	}
	id, serialURL, vncURL, logURL := m[1], m[2], m[3], m[4]
	// No server flags: the URL is all a team has.
	r = runRaw(context.Background(), "team1\n", "console", "--link", serialURL)
	if r.code != 0 || !strings.Contains(r.stdout, "tiny login: team1\n") || serial.Received() != "team1\n" {
		t.Fatalf("console --link: %v (the VM got %q)", r, serial.Received())
	}
	for _, u := range []string{logURL, vncURL, serialURL} { // any of the three URLs
		if r = runRaw(context.Background(), "", "console", "--log", "--link", u); r.code != 0 || r.stdout != "tiny login: team1\n" {
			t.Fatalf("console --log --link %s: %v", u, r)
		}
	}
	e.mustRun("console-link", "--revoke", id, "--g", "g1", "--n", "ns1")
	r = runRaw(context.Background(), "x\n", "console", "--link", serialURL)
	if r.code != 1 || len(lines(r.stderr)) != 1 || !strings.Contains(r.stderr, "console link revoked") {
		t.Fatalf("revoked: %v", r)
	}
	r = runRaw(context.Background(), "", "console", "--link", "http://localhost:1/api/v0/groups")
	if r.code != 1 || !strings.Contains(r.stderr, "is not a console link URL") {
		t.Fatalf("not a link: %v", r)
	}
}
