package cli

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/humstack/humstack/internal/testenv"

	"github.com/humstack/humstack/internal/agent/console"
	"github.com/humstack/humstack/internal/agent/console/consoletest"
	"github.com/humstack/humstack/internal/apiserver"
	"github.com/humstack/humstack/internal/storage/bolt"
)

const consoleSecret = "cluster-secret-cluster-secret"

// newConsoleEnv is newEnv with consoles: the API server holds the node
// secret, and VM g1/ns1/vm1 runs on a node whose agent serves a fake
// serial port greeting with "tiny login: ".
func newConsoleEnv(t *testing.T) (*env, *consoletest.Serial) {
	t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	st, err := bolt.Open(filepath.Join(t.TempDir(), "db"), bolt.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	srv := httptest.NewServer(apiserver.New(st, apiserver.Options{Log: quiet, NodeSecret: consoleSecret}).Handler())
	t.Cleanup(func() { srv.CloseClientConnections(); srv.Close() })
	u, _ := url.Parse(srv.URL)
	host, port, _ := net.SplitHostPort(u.Host)
	e := &env{t: t, host: host, port: port}

	agent := consoletest.StartAgent(t, consoleSecret)
	manifest := writeFile(t, "objects.yaml", `meta: {apiType: corev0/group, id: g1}
---
meta: {apiType: corev0/namespace, id: ns1, group: g1}
---
meta: {apiType: systemv0/node, id: worker1}
spec: {address: 127.0.0.1, downloadHost: '`+agent.Host()+`'}
---
meta: {apiType: systemv0/virtualmachine, id: vm1, group: g1, namespace: ns1, annotations: {virtualmachinev0/node_name: worker1}}
spec: {requestVcpus: 1000m, limitVcpus: 1000m, requestMemory: 128M, limitMemory: 128M}
`)
	e.mustRun("create", "-f", manifest)
	serial := agent.AddVM(t, console.Key{Group: "g1", Namespace: "ns1", ID: "vm1"}, "tiny login: ")
	return e, serial
}

func TestConsoleLog(t *testing.T) {
	e, serial := newConsoleEnv(t)
	serial.Print([]byte("\r\nwelcome\r\n"))
	waitFor(t, "the log", func() bool {
		return strings.HasSuffix(e.run("console", "--log", "vm1", "--g", "g1", "--n", "ns1").stdout, "welcome\r\n")
	})
	r := e.mustRun("console", "--log", "vm1", "--g", "g1", "--n", "ns1")
	if r.stdout != "tiny login: \r\nwelcome\r\n" {
		t.Fatalf("log %q", r.stdout)
	}
}

// TestConsolePipedInput: input from a pipe (not a terminal) is sent, the
// echo printed, and console exits once the input ended and the VM went
// quiet.
func TestConsolePipedInput(t *testing.T) {
	e, serial := newConsoleEnv(t)
	start := time.Now()
	r := e.runStdin("root\n", "console", "vm1", "--g", "g1", "--n", "ns1")
	if r.code != 0 {
		t.Fatalf("%v", r)
	}
	if !strings.Contains(r.stdout, "tiny login: root\n") {
		t.Fatalf("no prompt and echo: %v", r)
	}
	if !strings.Contains(r.stderr, "Connected to VM; escape with Ctrl-]") {
		t.Fatalf("no hint: %v", r)
	}
	if serial.Received() != "root\n" {
		t.Fatalf("the VM got %q", serial.Received())
	}
	t.Logf("piped session took %v", time.Since(start).Round(time.Millisecond))
}

// TestConsoleEscape: an interactive session over a pipe that stays open
// ends on Ctrl-], which is not sent to the VM.
func TestConsoleEscape(t *testing.T) {
	e, serial := newConsoleEnv(t)
	in, keys := io.Pipe()
	defer keys.Close()
	var out, errb testenv.SyncBuffer
	done := make(chan int, 1)
	go func() {
		done <- Main(context.Background(), e.args("console", "vm1", "--g", "g1", "--n", "ns1"), in, &out, &errb)
	}()
	waitFor(t, "the prompt", func() bool { return strings.Contains(out.String(), "tiny login: ") })
	io.WriteString(keys, "root\n")
	waitFor(t, "the echo", func() bool { return strings.Contains(out.String(), "tiny login: root\n") })
	io.WriteString(keys, "ls\x1dnever sent\n")
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errb.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Ctrl-] did not end the session")
	}
	waitFor(t, "the input before Ctrl-]", func() bool { return serial.Received() == "root\nls" })
	time.Sleep(100 * time.Millisecond)
	if got := serial.Received(); got != "root\nls" {
		t.Fatalf("the VM got %q; Ctrl-] and what follows must not reach it", got)
	}
}

func TestConsoleErrors(t *testing.T) {
	e, _ := newConsoleEnv(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"console", "missing", "--g", "g1", "--n", "ns1"}, "virtualmachine g1/ns1/missing not found"},
		{[]string{"console", "--log", "missing", "--g", "g1", "--n", "ns1"}, "virtualmachine g1/ns1/missing not found"},
		{[]string{"console"}, "console needs exactly one VM id"},
	} {
		r := e.run(tc.args...)
		if r.code != 1 || !strings.Contains(r.stderr, tc.want) || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("%v: %v, want one error line with %q", tc.args, r, tc.want)
		}
	}
}
