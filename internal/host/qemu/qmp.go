package qemu

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// QMP is a client of one QEMU's QMP socket. QEMU serves one client at a
// time (others wait until it disconnects), so hold a QMP only briefly.
// Methods may be called from several goroutines; they run one at a time.
type QMP struct {
	mu     sync.Mutex
	conn   net.Conn
	r      *bufio.Reader
	id     int
	broken error // set when I/O failed: the stream may be mid-message
}

// QMPError is an error that QEMU returned for a command.
type QMPError struct {
	Command string
	Class   string `json:"class"`
	Desc    string `json:"desc"`
}

func (e *QMPError) Error() string {
	return fmt.Sprintf("qmp %s: %s: %s", e.Command, e.Class, e.Desc)
}

// maxQMPLine bounds one QMP message; query replies are a few KiB.
const maxQMPLine = 1 << 20

// DialQMP connects to the QMP socket of dir, reads QEMU's greeting and
// leaves capabilities negotiation mode, so commands can run.
func DialQMP(ctx context.Context, dir string) (*QMP, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", QMPSocket(dir))
	if err != nil {
		return nil, fmt.Errorf("qmp: %w", err)
	}
	q := &QMP{conn: conn, r: bufio.NewReaderSize(conn, 64<<10)}
	if err := q.handshake(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	return q, nil
}

func (q *QMP) handshake(ctx context.Context) error {
	stop := q.bind(ctx)
	defer stop()
	var greeting struct {
		QMP *json.RawMessage `json:"QMP"`
	}
	msg, err := q.read()
	if err != nil {
		return fmt.Errorf("qmp greeting: %w", err)
	}
	if json.Unmarshal(msg, &greeting) != nil || greeting.QMP == nil {
		return fmt.Errorf("qmp greeting: unexpected %.200q", msg)
	}
	stop()
	return q.Run(ctx, "qmp_capabilities", nil, nil)
}

// bind makes ctx's deadline and cancellation interrupt I/O on the
// connection until the returned stop is called.
func (q *QMP) bind(ctx context.Context) (stop func()) {
	if dl, ok := ctx.Deadline(); ok {
		q.conn.SetDeadline(dl)
	}
	cancel := context.AfterFunc(ctx, func() { q.conn.SetDeadline(time.Now()) })
	return func() {
		cancel()
		q.conn.SetDeadline(time.Time{})
	}
}

// read returns the next message (one JSON object per line).
func (q *QMP) read() ([]byte, error) {
	var line []byte
	for {
		chunk, isPrefix, err := q.r.ReadLine()
		if err != nil {
			return nil, err
		}
		line = append(line, chunk...)
		if len(line) > maxQMPLine {
			return nil, fmt.Errorf("message longer than %d bytes", maxQMPLine)
		}
		if !isPrefix {
			return line, nil
		}
	}
}

// Run executes a QMP command with args (nil for none) and decodes its
// return value into out (nil to ignore it). Asynchronous events that
// arrive meanwhile are skipped. A command QEMU refuses gives a *QMPError.
func (q *QMP) Run(ctx context.Context, command string, args, out any) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.broken != nil {
		return fmt.Errorf("qmp %s: connection unusable after %w", command, q.broken)
	}
	stop := q.bind(ctx)
	defer stop()
	q.id++
	req, err := json.Marshal(struct {
		Execute   string `json:"execute"`
		Arguments any    `json:"arguments,omitempty"`
		ID        int    `json:"id"`
	}{command, args, q.id})
	if err != nil {
		return fmt.Errorf("qmp %s: %w", command, err)
	}
	if _, err := q.conn.Write(append(req, '\n')); err != nil {
		q.broken = ctxErr(ctx, err)
		return fmt.Errorf("qmp %s: %w", command, q.broken)
	}
	for {
		msg, err := q.read()
		if err != nil {
			q.broken = ctxErr(ctx, err)
			return fmt.Errorf("qmp %s: %w", command, q.broken)
		}
		var resp struct {
			Return json.RawMessage `json:"return"`
			Error  *QMPError       `json:"error"`
			Event  string          `json:"event"`
			ID     *int            `json:"id"`
		}
		if err := json.Unmarshal(msg, &resp); err != nil {
			return fmt.Errorf("qmp %s: bad reply %.200q: %w", command, msg, err)
		}
		switch {
		case resp.Event != "" || resp.ID == nil || *resp.ID != q.id:
			continue // an event
		case resp.Error != nil:
			resp.Error.Command = command
			return resp.Error
		case out != nil:
			if err := json.Unmarshal(resp.Return, out); err != nil {
				return fmt.Errorf("qmp %s: decode reply: %w", command, err)
			}
		}
		return nil
	}
}

// ctxErr prefers ctx's error over the I/O deadline error it caused. The
// connection's deadline is ctx's, and may pass before ctx's own timer
// fires.
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if dl, ok := ctx.Deadline(); ok && errors.Is(err, os.ErrDeadlineExceeded) && !time.Now().Before(dl) {
		return context.DeadlineExceeded
	}
	return err
}

// Close closes the connection.
func (q *QMP) Close() error { return q.conn.Close() }

// Status is the VM's run state (query-status): "running", "paused",
// "shutdown", "prelaunch", "internal-error", ...
func (q *QMP) Status(ctx context.Context) (string, error) {
	var st struct {
		Status string `json:"status"`
	}
	if err := q.Run(ctx, "query-status", nil, &st); err != nil {
		return "", err
	}
	return st.Status, nil
}

// Powerdown presses the ACPI power button; a guest that listens shuts
// down, and QEMU exits when it powers off.
func (q *QMP) Powerdown(ctx context.Context) error {
	return q.Run(ctx, "system_powerdown", nil, nil)
}

// Quit makes QEMU exit at once, without the guest's consent. QEMU may close
// the connection before it replies; that counts as success.
func (q *QMP) Quit(ctx context.Context) error {
	err := q.Run(ctx, "quit", nil, nil)
	if errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) {
		return nil
	}
	return err
}
