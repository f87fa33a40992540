package cli

import (
	"context"
	"net"
	"strings"
	"testing"
)

func TestWithPort(t *testing.T) {
	for in, want := range map[string]string{
		"10.0.0.1":              "10.0.0.1:8080",
		"10.0.0.1:9090":         "10.0.0.1:9090",
		"::1":                   "[::1]:8080",
		"[::1]:9090":            "[::1]:9090",
		"https://api.example":   "https://api.example:8080",
		"https://api.example:1": "https://api.example:1",
	} {
		if got := withPort(in, "8080"); got != want {
			t.Errorf("withPort(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestSeveralServers: with the first server dead, humcli uses the next,
// whether the list comes from --api-server-address or from apiServers in
// the config file.
func TestSeveralServers(t *testing.T) {
	e := newEnv(t)
	e.mustRun("create", "-f", "../../examples/seed/")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	live := net.JoinHostPort(e.host, e.port)
	cfg := writeFile(t, "humcli.yaml", "apiServers: ["+dead+", "+live+"]\ngroup: group1\nnamespace: ns1\n")
	for name, args := range map[string][]string{
		"flag":   {"get", "vm", "--g", "group1", "--n", "ns1", "--api-server-address", dead + "," + e.host, "--api-server-port", e.port},
		"config": {"get", "vm", "--config", cfg},
	} {
		r := runRaw(context.Background(), "", args...)
		if r.code != 0 || !strings.Contains(r.stdout, "vm1") {
			t.Errorf("%s: got %v, want vm1 listed", name, r)
		}
	}
}
