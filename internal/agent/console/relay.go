package console

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// sessionBuffer is how many chunks of output a session may lag behind
// before it is dropped: one slow client must not stall the others, nor
// the log.
const sessionBuffer = 256

// writeTimeout bounds a write of input to the serial socket: QEMU stops
// reading while the guest's UART is full.
const writeTimeout = 5 * time.Second

var errNotConnected = errors.New("the VM's serial port is not connected (is the VM running?)")

// relay is the one client of a VM's serial socket.
type relay struct {
	key    Key
	dir    string
	log    *slog.Logger
	cancel context.CancelFunc
	done   chan struct{} // closed when run returns

	wmu sync.Mutex // serialises input writes

	mu       sync.Mutex
	conn     net.Conn // nil while disconnected
	logf     *logFile // nil until the first connection, or when it failed
	recent   tail
	sessions map[*session]struct{}
	closed   bool // run has ended: no new sessions
}

// session is one attached client; out is closed when the relay drops it.
type session struct {
	out chan []byte
}

func newRelay(k Key, dir string, log *slog.Logger, cancel context.CancelFunc) *relay {
	r := &relay{
		key: k, dir: dir, log: log, cancel: cancel, done: make(chan struct{}),
		sessions: map[*session]struct{}{},
	}
	r.recent.max = TailSize
	r.recent.Write(readTail(dir, TailSize))
	return r
}

// run dials the socket, relays until it closes, and dials again, until ctx
// ends.
func (r *relay) run(ctx context.Context) {
	defer close(r.done)
	defer r.shutdown()
	path := filepath.Join(r.dir, SerialSocket)
	var d net.Dialer
	for attempt := 0; ; attempt++ {
		conn, err := d.DialContext(ctx, "unix", path)
		if err == nil {
			attempt = -1
			r.serve(ctx, conn)
		} else if attempt == 0 {
			r.log.Debug("serial console not reachable yet; waiting for QEMU", "socket", path, "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(redialDelay(attempt)):
		}
	}
}

// redialDelay is 50 ms after a lost connection (QEMU restarting), then
// doubles up to 1 s while the socket stays absent.
func redialDelay(attempt int) time.Duration {
	return min(50*time.Millisecond<<max(attempt, 0), time.Second)
}

// serve copies the socket's output to the log and the sessions until the
// socket closes or ctx ends.
func (r *relay) serve(ctx context.Context, conn net.Conn) {
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	r.connected(conn)
	r.log.Info("serial console connected")
	buf := make([]byte, 32<<10)
	for {
		n, err := conn.Read(buf)
		if n > 0 {
			r.broadcast(buf[:n])
		}
		if err != nil {
			break
		}
	}
	r.connected(nil)
	conn.Close()
	if ctx.Err() == nil {
		r.log.Info("serial console disconnected; redialling")
	}
}

// connected records the current connection and, on the first one, opens
// the log: the VM directory exists once QEMU has made its socket in it.
func (r *relay) connected(conn net.Conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.conn = conn
	if conn != nil && r.logf == nil {
		lf, err := openLog(r.dir, MaxLogSize)
		if err != nil {
			r.log.Error("cannot write the serial console log; relaying without it", "err", err)
			return
		}
		r.logf = lf
	}
}

// broadcast logs p and hands a copy to every session. A session too slow
// to keep up is dropped rather than allowed to stall the VM's console.
func (r *relay) broadcast(p []byte) {
	chunk := bytes.Clone(p)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.logf != nil {
		if err := r.logf.Write(chunk); err != nil {
			r.log.Error("serial console log write failed; relaying without it", "err", err)
			r.logf.Close()
			r.logf = nil
		}
	}
	r.recent.Write(chunk)
	for s := range r.sessions {
		select {
		case s.out <- chunk:
		default:
			r.log.Warn("serial console session too slow; dropped")
			delete(r.sessions, s)
			close(s.out)
		}
	}
}

// write sends input to the serial socket.
func (r *relay) write(p []byte) error {
	r.wmu.Lock()
	defer r.wmu.Unlock()
	r.mu.Lock()
	conn := r.conn
	r.mu.Unlock()
	if conn == nil {
		return errNotConnected
	}
	_ = conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	_, err := conn.Write(p)
	return err
}

// attach adds a session and returns the recent output to show it first;
// ok is false once the relay has stopped.
func (r *relay) attach() (s *session, recent []byte, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, nil, false
	}
	s = &session{out: make(chan []byte, sessionBuffer)}
	r.sessions[s] = struct{}{}
	return s, r.recent.Bytes(), true
}

// detach removes a session the client left.
func (r *relay) detach(s *session) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.sessions[s]; ok {
		delete(r.sessions, s)
		close(s.out)
	}
}

// shutdown ends every session and closes the log.
func (r *relay) shutdown() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	for s := range r.sessions {
		delete(r.sessions, s)
		close(s.out)
	}
	r.logf.Close()
	r.logf = nil
}

// dirExists reports whether the VM directory is there.
func dirExists(dir string) bool {
	st, err := os.Stat(dir)
	return err == nil && st.IsDir()
}
