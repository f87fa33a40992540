// Package consoletest fakes what the console relay talks to, for tests of
// the console package, the API server's proxy and the CLI: QEMU's serial
// socket (a unix server that takes one client at a time, greets it with a
// prompt and echoes input, like a terminal), QEMU's VNC socket (sends the
// RFB greeting, then echoes), and an agent's node listener serving a
// console.Manager behind the node listener's rule table.
package consoletest

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/humstack/humstack/internal/agent/console"
	"github.com/humstack/humstack/internal/agent/downloadapi"
)

// RFBGreeting is what a VNC server sends first.
const RFBGreeting = "RFB 003.008\n"

// Serial is a fake QEMU serial chardev socket (server=on,wait=off).
type Serial struct {
	Path   string
	prompt string
	ln     net.Listener
	done   chan struct{}

	mu       sync.Mutex
	closed   bool
	conn     net.Conn // the current client
	clients  int      // clients accepted so far
	received bytes.Buffer
}

// StartSerial listens on path (replacing a stale socket) and greets every
// client with prompt. It stops when the test ends.
func StartSerial(t testing.TB, path, prompt string) *Serial {
	t.Helper()
	os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	s := &Serial{Path: path, prompt: prompt, ln: ln, done: make(chan struct{})}
	go s.accept()
	t.Cleanup(s.Close)
	return s
}

// accept serves one client at a time, as QEMU does.
func (s *Serial) accept() {
	defer close(s.done)
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conn = c
		s.clients++
		s.mu.Unlock()
		s.serve(c)
	}
}

func (s *Serial) serve(c net.Conn) {
	defer c.Close()
	if _, err := c.Write([]byte(s.prompt)); err != nil {
		return
	}
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			s.mu.Lock()
			s.received.Write(buf[:n])
			s.mu.Unlock()
			if _, err := c.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// Print writes p to the current client, as the guest printing; it fails
// while no client is connected.
func (s *Serial) Print(p []byte) error {
	s.mu.Lock()
	c := s.conn
	s.mu.Unlock()
	if c == nil {
		return errors.New("no client")
	}
	_, err := c.Write(p)
	return err
}

// Received returns everything clients sent.
func (s *Serial) Received() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.received.String()
}

// Clients returns how many clients were accepted.
func (s *Serial) Clients() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.clients
}

// WaitClients waits until n clients were accepted.
func (s *Serial) WaitClients(t testing.TB, n int) {
	t.Helper()
	Eventually(t, func() bool { return s.Clients() >= n }, "%d serial clients", n)
}

// Close is QEMU exiting: the socket goes away and the client is cut off.
func (s *Serial) Close() {
	s.mu.Lock()
	s.closed = true
	if s.conn != nil {
		s.conn.Close()
	}
	s.mu.Unlock()
	s.ln.Close() // removes the socket file
	<-s.done
}

// StartVNC listens on path as QEMU's VNC server: every client gets the RFB
// greeting, then an echo of what it sends.
func StartVNC(t testing.TB, path string) {
	t.Helper()
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				if _, err := c.Write([]byte(RFBGreeting)); err != nil {
					return
				}
				buf := make([]byte, 4096)
				for {
					n, err := c.Read(buf)
					if err != nil {
						return
					}
					if _, err := c.Write(buf[:n]); err != nil {
						return
					}
				}
			}()
		}
	}()
}

// Agent is a console.Manager over VM directories under Root
// (Root/group/namespace/id) served as an agent serves it: on a node
// listener (the secret, or certificates with StartAgentTLS).
type Agent struct {
	Root    string
	Manager *console.Manager
	Server  *httptest.Server
}

// StartAgent starts an agent's node listener for consoles, stopped (and
// every relay with it) when the test ends.
func StartAgent(t testing.TB, secret string) *Agent {
	t.Helper()
	root := t.TempDir()
	a := &Agent{Root: root}
	log := slog.New(slog.DiscardHandler)
	a.Manager = console.NewManager(a.Dir, log)
	a.Server = httptest.NewServer(Listener(secret, a.Manager, log))
	t.Cleanup(func() {
		a.Server.CloseClientConnections()
		a.Server.Close()
		a.Manager.Close()
	})
	return a
}

// StartAgentTLS is StartAgent for a joined node: its listener speaks TLS
// with cert (its node certificate) and admits node and API server
// certificates of roots only (no secret).
func StartAgentTLS(t testing.TB, cert *tls.Certificate, roots *x509.CertPool) *Agent {
	t.Helper()
	root := t.TempDir()
	a := &Agent{Root: root}
	log := slog.New(slog.DiscardHandler)
	a.Manager = console.NewManager(a.Dir, log)
	a.Server = httptest.NewUnstartedServer(Listener("", a.Manager, log))
	a.Server.TLS = &tls.Config{Certificates: []tls.Certificate{*cert}, ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: roots}
	a.Server.StartTLS()
	t.Cleanup(func() {
		a.Server.CloseClientConnections()
		a.Server.Close()
		a.Manager.Close()
	})
	return a
}

// Listener is a node listener serving m's consoles only, as an agent
// serves them (behind the node listener's rule table).
func Listener(secret string, m *console.Manager, log *slog.Logger) *downloadapi.Listener {
	l := downloadapi.NewListener(secret, log)
	m.Register(l)
	return l
}

// Dir is the directory of VM k.
func (a *Agent) Dir(k console.Key) string {
	return filepath.Join(a.Root, k.Group, k.Namespace, k.ID)
}

// Host is the listener's host:port, as a node's downloadHost.
func (a *Agent) Host() string { return a.Server.Listener.Addr().String() }

// AddVM makes VM k's directory with a fake serial socket greeting with
// prompt and a fake VNC socket, and starts its relay.
func (a *Agent) AddVM(t testing.TB, k console.Key, prompt string) *Serial {
	t.Helper()
	dir := a.Dir(k)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	s := StartSerial(t, filepath.Join(dir, console.SerialSocket), prompt)
	StartVNC(t, filepath.Join(dir, console.VNCSocket))
	a.Manager.Start(k)
	s.WaitClients(t, 1)
	return s
}

// Eventually polls cond for up to 10 s, then fails the test.
func Eventually(t testing.TB, cond func() bool, format string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for "+format, args...)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
