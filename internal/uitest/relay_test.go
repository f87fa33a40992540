package uitest_test

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"

	"github.com/humstack/humstack/internal/lab"
)

// relay listens on a loopback port of the host and joins every connection
// to addr inside the lab namespace ns: the host's Chromium cannot dial into
// a namespace, the lab's own client does it with lab.DialContext, and so
// does this. Bytes pass untouched (TLS ends in the API server).
type relay struct {
	ln    net.Listener
	dial  func(ctx context.Context, network, addr string) (net.Conn, error)
	addr  string
	mu    sync.Mutex
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

// startRelay starts the relay until the test ends and returns its address.
func startRelay(t testing.TB, ns, addr string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &relay{ln: ln, dial: lab.DialContext(ns), addr: addr, conns: map[net.Conn]bool{}}
	r.wg.Add(1)
	go r.serve()
	t.Cleanup(r.close)
	return ln.Addr().String()
}

func (r *relay) serve() {
	defer r.wg.Done()
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		r.wg.Add(1)
		go r.pipe(c)
	}
}

// pipe copies both ways until either side ends, then closes both.
func (r *relay) pipe(c net.Conn) {
	defer r.wg.Done()
	defer c.Close()
	up, err := r.dial(context.Background(), "tcp", r.addr)
	if err != nil {
		return
	}
	defer up.Close()
	if !r.track(c, up) {
		return
	}
	defer r.untrack(c, up)
	done := make(chan struct{}, 2)
	go func() { io.Copy(up, c); done <- struct{}{} }()
	go func() { io.Copy(c, up); done <- struct{}{} }()
	<-done
}

// track records open connections so that close can end them; it reports
// false once the relay is closing.
func (r *relay) track(cs ...net.Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.conns == nil {
		return false
	}
	for _, c := range cs {
		r.conns[c] = true
	}
	return true
}

func (r *relay) untrack(cs ...net.Conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range cs {
		delete(r.conns, c)
	}
}

// close stops accepting, ends every open connection and waits for the
// relay's goroutines.
func (r *relay) close() {
	r.ln.Close()
	r.mu.Lock()
	for c := range r.conns {
		c.Close()
	}
	r.conns = nil
	r.mu.Unlock()
	r.wg.Wait()
}
