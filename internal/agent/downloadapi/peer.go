package downloadapi

import (
	"bufio"
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// Mutual TLS on the node listener. A node with a node certificate serves
// TLS and plain HTTP on the one port (the first byte of a connection tells
// them apart), so peers without certificates keep working with the shared
// secret while a cluster moves to certificates. The handshake verifies a
// client certificate against the cluster CA (an expired one, or one of
// another CA, ends the connection); the rule table (rules.go) then says
// which certificate, or the secret, may call each route.

// sniffTimeout bounds waiting for a connection's first byte.
const sniffTimeout = 10 * time.Second

// sniffListener hands out TLS connections for those that start with a TLS
// handshake record and plain ones for the rest.
type sniffListener struct {
	net.Listener
	cfg   *tls.Config
	conns chan net.Conn
	errc  chan error
	done  chan struct{}
	once  sync.Once
}

// newSniffListener serves TLS (cfg) and plain HTTP on ln.
func newSniffListener(ln net.Listener, cfg *tls.Config) *sniffListener {
	l := &sniffListener{Listener: ln, cfg: cfg, conns: make(chan net.Conn), errc: make(chan error, 1), done: make(chan struct{})}
	go l.acceptLoop()
	return l
}

func (l *sniffListener) acceptLoop() {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			l.errc <- err
			return
		}
		go l.sniff(c) // a slow client must not hold up the others
	}
}

func (l *sniffListener) sniff(c net.Conn) {
	br := bufio.NewReader(c)
	_ = c.SetReadDeadline(time.Now().Add(sniffTimeout))
	first, err := br.Peek(1)
	_ = c.SetReadDeadline(time.Time{})
	if err != nil {
		c.Close()
		return
	}
	var out net.Conn = &peekedConn{Conn: c, r: br}
	if first[0] == 0x16 { // TLS handshake record
		out = tls.Server(out, l.cfg)
	}
	select {
	case l.conns <- out:
	case <-l.done:
		c.Close()
	}
}

// Accept implements net.Listener.
func (l *sniffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case err := <-l.errc:
		l.errc <- err // every later Accept fails the same way
		return nil, err
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close implements net.Listener.
func (l *sniffListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// peekedConn reads through the buffer the first byte was peeked into.
type peekedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *peekedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// ServeMTLS is Serve with TLS (cfg) beside plain HTTP on addr; cfg nil is
// Serve.
func ServeMTLS(ctx context.Context, addr string, h http.Handler, cfg *tls.Config, log *slog.Logger) error {
	if cfg == nil {
		return Serve(ctx, addr, h, log)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return serveOn(ctx, newSniffListener(ln, cfg), h, log)
}
