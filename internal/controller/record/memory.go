package record

import (
	"fmt"
	"sync"

	"github.com/humstack/humstack/api"
)

// Memory is a Recorder that keeps what it is told, in order: for the tests
// of code that records events, which need no API server then.
type Memory struct {
	mu     sync.Mutex
	events []Recorded
}

// Recorded is one event told to a Memory.
type Recorded struct {
	Object                api.ObjectReference
	Type, Reason, Message string
}

// Event implements Recorder.
func (m *Memory) Event(obj api.Object, eventType, reason, messageFmt string, args ...any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.events = append(m.events, Recorded{Object: api.ReferenceTo(obj), Type: eventType, Reason: reason,
		Message: fmt.Sprintf(messageFmt, args...)})
}

// Events returns the events so far.
func (m *Memory) Events() []Recorded {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Recorded(nil), m.events...)
}

// Reasons returns the reasons of the events so far, in order.
func (m *Memory) Reasons() []string {
	var out []string
	for _, e := range m.Events() {
		out = append(out, e.Reason)
	}
	return out
}
