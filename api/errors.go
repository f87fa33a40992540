package api

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Error classes. Every error returned by the server, the store and the client
// wraps exactly one of these; test with errors.Is, never by message.
var (
	ErrNotFound      = errors.New("not found")
	ErrAlreadyExists = errors.New("already exists")
	ErrConflict      = errors.New("conflict")
	// ErrHeld is a conflict that reading again does not resolve: what
	// the write names is another object's (an address of a network's
	// pool). It is also ErrConflict; writers that retry conflicts (a
	// stale resourceVersion) must not retry it. On the wire: 409, reason
	// "Held".
	ErrHeld    = fmt.Errorf("held by another object: %w", ErrConflict)
	ErrInvalid = errors.New("invalid")
	// ErrGone means a watch asked for a revision that was compacted away:
	// list again and watch from the list's revision.
	ErrGone         = errors.New("revision compacted")
	ErrUnauthorized = errors.New("unauthorized")
	ErrForbidden    = errors.New("forbidden")
	ErrUnavailable  = errors.New("unavailable")
	// ErrTooManyRequests is a rate limit: the same request is refused
	// until the time the message names.
	ErrTooManyRequests = errors.New("too many requests")
)

// classes is the one table that maps error classes to HTTP and back.
var classes = []struct {
	err    error
	status int
	reason string
}{
	{ErrNotFound, http.StatusNotFound, "NotFound"},
	{ErrAlreadyExists, http.StatusConflict, "AlreadyExists"},
	{ErrHeld, http.StatusConflict, "Held"}, // before ErrConflict, which it also is
	{ErrConflict, http.StatusConflict, "Conflict"},
	{ErrInvalid, http.StatusBadRequest, "Invalid"},
	{ErrGone, http.StatusGone, "Gone"},
	{ErrUnauthorized, http.StatusUnauthorized, "Unauthorized"},
	{ErrForbidden, http.StatusForbidden, "Forbidden"},
	{ErrUnavailable, http.StatusServiceUnavailable, "Unavailable"},
	{ErrTooManyRequests, http.StatusTooManyRequests, "TooManyRequests"},
}

// HTTPStatus maps an error to its HTTP status and reason; unknown errors are 500.
func HTTPStatus(err error) (int, string) {
	for _, c := range classes {
		if errors.Is(err, c.err) {
			return c.status, c.reason
		}
	}
	return http.StatusInternalServerError, "Internal"
}

// ErrorFromHTTP rebuilds a classed error from a response's status, reason and message.
func ErrorFromHTTP(status int, reason, msg string) error {
	for _, c := range classes {
		if c.reason == reason {
			return &remoteError{class: c.err, msg: msg}
		}
	}
	for _, c := range classes {
		if c.status == status {
			return &remoteError{class: c.err, msg: msg}
		}
	}
	return fmt.Errorf("server error (HTTP %d): %s", status, msg)
}

type remoteError struct {
	class error
	msg   string
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.class }

// FieldError is one invalid field: its JSON path and what is wrong with it.
type FieldError struct {
	Field  string `json:"field"`
	Detail string `json:"detail"`
}

func (e FieldError) Error() string { return e.Field + ": " + e.Detail }

// FieldErrors collects validation failures; use Err to turn them into an error.
type FieldErrors []FieldError

// Add records a failure of field.
func (fe *FieldErrors) Add(field, format string, args ...any) {
	*fe = append(*fe, FieldError{Field: field, Detail: fmt.Sprintf(format, args...)})
}

// Err returns nil when empty, else an error wrapping ErrInvalid that names every field.
func (fe FieldErrors) Err() error {
	if len(fe) == 0 {
		return nil
	}
	return &InvalidError{Fields: fe}
}

// InvalidError is a validation failure naming each field at fault.
type InvalidError struct{ Fields FieldErrors }

func (e *InvalidError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Error()
	}
	return strings.Join(parts, "; ")
}

// Unwrap makes errors.Is(err, ErrInvalid) hold.
func (e *InvalidError) Unwrap() error { return ErrInvalid }

// Invalid is a shorthand for a single-field validation error.
func Invalid(field, format string, args ...any) error {
	var fe FieldErrors
	fe.Add(field, format, args...)
	return fe.Err()
}
