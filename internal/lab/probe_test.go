package lab_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/humstack/humstack/internal/lab"
	"github.com/humstack/humstack/internal/lab/labtest"
)

// TestSSHAcrossNamespaces runs a small SSH server inside node-c (through
// lab.Listen, started late so the client must retry) and logs in from
// node-b with a key, as tests will log in to guests.
func TestSSHAcrossNamespaces(t *testing.T) {
	l := labtest.Up(t, lab.Config{HeartbeatSeconds: 1})
	_, clientKey, _ := ed25519.GenerateKey(rand.Reader)
	signer, err := ssh.NewSignerFromKey(clientKey)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(500 * time.Millisecond)
		ln, err := lab.Listen(l.NS("node-c"), "tcp", "172.31.0.3:2222")
		if err != nil {
			t.Error(err)
			return
		}
		t.Cleanup(func() { ln.Close() })
		serveSSH(t, ln, signer.PublicKey(), "guest-c\n")
	}()
	out, err := lab.SSH(ctxFor(t, 10*time.Second), l.NS("node-b"), "172.31.0.3:2222", "root", signer, "hostname")
	if err != nil || out != "guest-c\n" {
		t.Fatalf("ssh: %q, %v", out, err)
	}
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	wrong, _ := ssh.NewSignerFromKey(other)
	// 10 s, not less: under load a dial and key exchange take seconds.
	_, err = lab.SSH(ctxFor(t, 10*time.Second), l.NS("node-b"), "172.31.0.3:2222", "root", wrong, "hostname")
	if err == nil || !strings.Contains(err.Error(), "unable to authenticate") {
		t.Errorf("wrong key: want an authentication failure, got %v", err)
	}
}

// serveSSH accepts connections on ln until it is closed, allows the key
// authorized, and answers every exec request with out.
func serveSSH(t *testing.T, ln net.Listener, authorized ssh.PublicKey, out string) {
	_, hostKey, _ := ed25519.GenerateKey(rand.Reader)
	hs, _ := ssh.NewSignerFromKey(hostKey)
	conf := &ssh.ServerConfig{PublicKeyCallback: func(_ ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
		if string(k.Marshal()) == string(authorized.Marshal()) {
			return nil, nil
		}
		return nil, errors.New("unknown key")
	}}
	conf.AddHostKey(hs)
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go serveConn(c, conf, out)
	}
}

func serveConn(c net.Conn, conf *ssh.ServerConfig, out string) {
	defer c.Close()
	_, chans, reqs, err := ssh.NewServerConn(c, conf)
	if err != nil {
		return
	}
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		ch, chReqs, err := nc.Accept()
		if err != nil {
			return
		}
		for r := range chReqs {
			if r.Type == "exec" {
				_ = r.Reply(true, nil)
				_, _ = ch.Write([]byte(out))
				_, _ = ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{0}))
				ch.Close()
			}
		}
	}
}

// TestWaitForLog waits for a marker written late, and shows the last
// lines when it never comes.
func TestWaitForLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "serial.log")
	go func() {
		time.Sleep(200 * time.Millisecond)
		_ = os.WriteFile(path, []byte("booting\nHUMSTACK-READY\n"), 0o600)
	}()
	if err := lab.WaitForLog(ctxFor(t, 5*time.Second), path, "HUMSTACK-READY"); err != nil {
		t.Fatal(err)
	}
	err := lab.WaitForLog(ctxFor(t, 300*time.Millisecond), path, "NEVER")
	if err == nil || !strings.Contains(err.Error(), "booting\nHUMSTACK-READY") {
		t.Errorf("want the file's last lines in the error, got %v", err)
	}
}
