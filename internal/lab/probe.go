package lab

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// defaultProbeTimeout bounds Ping, SSH and WaitForLog when ctx has no
// deadline, so a forgotten deadline cannot hang a test.
const defaultProbeTimeout = 30 * time.Second

// withDefaultDeadline gives ctx a deadline if it has none.
func withDefaultDeadline(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, defaultProbeTimeout)
}

// Ping sends one ping (ping -c1 -W1) from the named namespace to addr,
// again and again until one is answered or ctx's deadline (default 30 s)
// passes; the error holds the last attempt's output.
func Ping(ctx context.Context, ns, addr string) error {
	ctx, cancel := withDefaultDeadline(ctx)
	defer cancel()
	var last error
	for {
		_, err := Exec(ctx, ns, "ping", "-n", "-c1", "-W1", addr)
		if err == nil {
			return nil
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("ping %s from %s: no answer before the deadline: %w", addr, ns, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// SSH logs in to addr (host or host:port, port 22 by default) from the
// named namespace as user with signer's key, runs cmd and returns its
// standard output. Connecting is retried until ctx's deadline (default
// 30 s), since a booting guest refuses connections at first. Host keys are
// not checked: test guests make fresh ones at every boot.
func SSH(ctx context.Context, ns, addr, user string, signer ssh.Signer, cmd string) (string, error) {
	ctx, cancel := withDefaultDeadline(ctx)
	defer cancel()
	if _, _, err := net.SplitHostPort(addr); err != nil {
		addr = net.JoinHostPort(addr, "22")
	}
	conf := &ssh.ClientConfig{
		User:            user,
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), //nolint:gosec // fresh test guests
		Timeout:         5 * time.Second,
	}
	c, err := sshDial(ctx, ns, addr, conf)
	if err != nil {
		return "", err
	}
	defer c.Close()
	s, err := c.NewSession()
	if err != nil {
		return "", fmt.Errorf("ssh %s@%s: session: %w", user, addr, err)
	}
	defer s.Close()
	var out, errb bytes.Buffer
	s.Stdout, s.Stderr = &out, &errb
	if err := s.Run(cmd); err != nil {
		return out.String(), fmt.Errorf("ssh %s@%s %q: %w: %s", user, addr, cmd, err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

// sshDial connects and authenticates, retrying until ctx is done.
func sshDial(ctx context.Context, ns, addr string, conf *ssh.ClientConfig) (*ssh.Client, error) {
	dial := DialContext(ns)
	var last error
	for {
		c, err := sshTry(ctx, dial, addr, conf)
		if err == nil {
			return c, nil
		}
		last = err
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("ssh %s@%s from %s: %w (last: %v)", conf.User, addr, ns, ctx.Err(), last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// sshTry makes one connection attempt.
func sshTry(ctx context.Context, dial func(context.Context, string, string) (net.Conn, error), addr string, conf *ssh.ClientConfig) (*ssh.Client, error) {
	dctx, cancel := context.WithTimeout(ctx, conf.Timeout)
	defer cancel()
	conn, err := dial(dctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	// The handshake has no context: bound it by a deadline on the conn.
	_ = conn.SetDeadline(time.Now().Add(conf.Timeout))
	sc, chans, reqs, err := ssh.NewClientConn(conn, addr, conf)
	if err != nil {
		conn.Close()
		return nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	return ssh.NewClient(sc, chans, reqs), nil
}

// WaitForLog waits until the file at path (e.g. a guest's serial log)
// contains marker, or ctx's deadline (default 30 s) passes; the error then
// holds the file's last lines.
func WaitForLog(ctx context.Context, path, marker string) error {
	ctx, cancel := withDefaultDeadline(ctx)
	defer cancel()
	for {
		b, err := os.ReadFile(path)
		if err == nil && bytes.Contains(b, []byte(marker)) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%q not in %s: %w; last lines:\n%s", marker, path, ctx.Err(), LastLines(path, 20))
		case <-time.After(100 * time.Millisecond):
		}
	}
}
