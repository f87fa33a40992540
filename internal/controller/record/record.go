// Package record is how controllers report events (corev0/event) about the
// objects they reconcile. A Recorder never blocks a reconcile: Event puts
// the report in a bounded in-memory cache and returns; one writer
// goroutine per Sink writes the cache to the API. Repeats of an event (same
// involved object, type, reason, source and message) are one cached entry
// whose count and last time grow, written at most once per
// Options.Interval, with the count exact when written. When the API is
// unavailable the entry stays dirty and is written on a later flush; an
// entry evicted from the full cache before it was written is dropped and
// counted (Stats.Dropped). Everything is bounded: the cache, the writes per
// event, the time a write may take.
package record

import (
	"github.com/humstack/humstack/api"
)

// Recorder records events about objects. Implementations are safe for
// concurrent use and return at once.
type Recorder interface {
	// Event records that something of eventType (api.EventNormal or
	// api.EventWarning) and reason (one CamelCase word) happened to obj;
	// the message is fmt.Sprintf(messageFmt, args...).
	Event(obj api.Object, eventType, reason, messageFmt string, args ...any)
}

// Discard is a Recorder that records nothing, for code run without an
// API to record to (unit tests of a driver).
var Discard Recorder = discard{}

type discard struct{}

func (discard) Event(api.Object, string, string, string, ...any) {}
