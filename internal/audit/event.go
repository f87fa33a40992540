package audit

import (
	"time"

	"github.com/humstack/humstack/internal/auth"
)

// Event kinds: the "event" field of a line.
const (
	EventRequest      = "request"       // a write, a denied request, or a console attempt that failed
	EventConsoleStart = "console.start" // a console session began (websocket up, or the log streaming)
	EventConsoleEnd   = "console.end"   // it ended: duration and bytes
	EventLost         = "audit.lost"    // lines lost before this one (buffer full or write failed)
)

// Event is one line of the audit log. Field names are the documented format
// (docs/audit.md); add fields, never rename one.
type Event struct {
	// Time is when the request arrived (console.end: when the session
	// ended), RFC 3339 with nanoseconds, UTC.
	Time      time.Time `json:"time"`
	Event     string    `json:"event"`
	RequestID string    `json:"requestID,omitempty"`
	Identity  Identity  `json:"identity"`
	// Verb is get, list, watch, create, update, patch, delete or console.
	Verb   string `json:"verb,omitempty"`
	Object Object `json:"object,omitzero"`
	Method string `json:"method,omitempty"`
	// Path is the request's path without its query (which may carry a
	// console link's token).
	Path string `json:"path,omitempty"`
	// Code is the HTTP status answered (101 for a console that started).
	Code int `json:"code,omitempty"`
	// Reason says why a request was denied, when the server said why.
	Reason string `json:"reason,omitempty"`
	// SourceAddress is the TCP peer (host:port) of the request, or, when
	// that peer is a trusted proxy (--trusted-proxy), the client address
	// the proxies' X-Forwarded-For names (no port).
	SourceAddress string `json:"sourceAddress,omitempty"`
	// Proxy is the TCP peer when SourceAddress was read from
	// X-Forwarded-For.
	Proxy string `json:"proxy,omitempty"`
	// ForwardedFor is the request's X-Forwarded-For header as received,
	// cut to 256 bytes: unverified unless Proxy is set.
	ForwardedFor string `json:"forwardedFor,omitempty"`
	UserAgent    string `json:"userAgent,omitempty"`
	// DurationMs is how long the request (console.end: the session) took.
	DurationMs float64 `json:"durationMs,omitempty"`
	// BytesIn and BytesOut count a console session's bytes from and to
	// the user (console.end only).
	BytesIn  int64 `json:"bytesIn,omitempty"`
	BytesOut int64 `json:"bytesOut,omitempty"`
	// Lost is the number of lines lost just before this one (audit.lost).
	Lost int64 `json:"lost,omitempty"`
}

// Identity is who made the request, as authentication established it.
type Identity struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
	Via  string `json:"via"`
}

// Object is what the request is about, read from its path.
type Object struct {
	APIType     string `json:"apiType,omitempty"`
	Group       string `json:"group,omitempty"`
	Namespace   string `json:"namespace,omitempty"`
	ID          string `json:"id,omitempty"`
	Subresource string `json:"subresource,omitempty"`
}

func identityOf(id *auth.Identity) Identity {
	if id == nil {
		id = auth.Anonymous
	}
	return Identity{Name: id.Name, Kind: string(id.Kind), Via: id.Via}
}
