package console

import (
	"context"
	"log/slog"
	"sync"
)

// Names of the files in a VM's directory. The sockets are QEMU's (see
// internal/host/qemu); the logs are written by the relay.
const (
	SerialSocket = "serial.sock"
	VNCSocket    = "vnc.sock"
	LogFile      = "serial.log"
	OldLogFile   = "serial.log.1"
)

const (
	// MaxLogSize is the size past which serial.log is rotated to
	// serial.log.1: a VM's console log never takes more than twice this.
	MaxLogSize = 1 << 20
	// TailSize bounds the recent output a session receives on attach.
	TailSize = 4 << 10
)

// Key names a VM.
type Key struct{ Group, Namespace, ID string }

func (k Key) String() string { return k.Group + "/" + k.Namespace + "/" + k.ID }

// Manager runs the serial relays of this node's VMs and serves their
// consoles (Routes).
type Manager struct {
	dirOf func(Key) string
	log   *slog.Logger

	mu     sync.Mutex
	relays map[Key]*relay
}

// NewManager returns a manager that finds a VM's sockets and logs in
// dirOf(k). A nil log means slog.Default().
func NewManager(dirOf func(Key) string, log *slog.Logger) *Manager {
	if log == nil {
		log = slog.Default()
	}
	return &Manager{dirOf: dirOf, log: log, relays: map[Key]*relay{}}
}

// Start runs the serial relay of VM k unless it runs already: it connects
// to the VM's serial socket (waiting for QEMU to create it), logs the
// output and serves sessions until Stop. Safe to call again at every
// reconcile.
func (m *Manager) Start(k Key) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.relays[k]; ok {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := newRelay(k, m.dirOf(k), m.log.With("vm", k.String()), cancel)
	m.relays[k] = r
	go r.run(ctx)
}

// Stop ends the relay of VM k, if any, and waits for it: its sessions are
// closed and the log file is closed but left in place. Safe to call for a
// VM without a relay.
func (m *Manager) Stop(k Key) {
	m.mu.Lock()
	r := m.relays[k]
	delete(m.relays, k)
	m.mu.Unlock()
	if r != nil {
		r.cancel()
		<-r.done
	}
}

// Close stops every relay, for the agent's shutdown.
func (m *Manager) Close() {
	m.mu.Lock()
	keys := make([]Key, 0, len(m.relays))
	for k := range m.relays {
		keys = append(keys, k)
	}
	m.mu.Unlock()
	for _, k := range keys {
		m.Stop(k)
	}
}

// relay returns the running relay of k, or nil.
func (m *Manager) relay(k Key) *relay {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.relays[k]
}
