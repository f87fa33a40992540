// Package storage defines humstack's revisioned key-value store: the one
// contract every backend (bolt now, etcd later) implements and proves with the
// conformance suite in storagetest.
//
// The model is etcd's and kine's: one cluster-wide revision counter that every
// write increments; each key remembers the revision it was created at and
// the revision of its last change; a change log lets watchers start at any
// revision that has not been compacted away.
package storage

import "context"

// Errors are the api classes, so the API layer maps them without translation:
//   - api.ErrNotFound: Get/Update/Delete of a missing key
//   - api.ErrAlreadyExists: Create of a present key
//   - api.ErrConflict: Update/Delete whose expected revision is not the key's
//   - api.ErrGone: Watch from a revision older than the compaction point

// KV is one stored key at one revision.
type KV struct {
	Key            string
	Value          []byte
	CreateRevision int64
	ModRevision    int64
}

// EventType says what happened to a key.
type EventType int

// Event types.
const (
	EventPut    EventType = iota + 1 // created or updated; KV.CreateRevision == KV.ModRevision on create
	EventDelete                      // removed; KV holds the last value and ModRevision = the delete's revision
)

// Event is one change, in revision order.
type Event struct {
	Type EventType
	KV   KV
}

// Created reports whether a put event created the key.
func (e Event) Created() bool { return e.Type == EventPut && e.KV.CreateRevision == e.KV.ModRevision }

// Store is a revisioned key-value store. All methods are safe for concurrent
// use. A returned error that is none of the classes above is an internal
// failure (I/O, closed store). A write that returns nil is durable.
type Store interface {
	// Get returns the current value of key.
	Get(ctx context.Context, key string) (KV, error)
	// List returns every key starting with prefix in key order, and the store
	// revision the list was read at (watch from it to see later changes).
	List(ctx context.Context, prefix string) ([]KV, int64, error)
	// Range calls fn for each key starting with prefix, in key order, without
	// holding the whole range in memory; see RangeOptions for where it
	// starts, how far it goes and at which revision it reads. It returns the
	// revision read at and, when opts.Limit cut the range short with keys
	// left, the last key given to fn (the next call's After); "" when the
	// range was read to its end. fn must not keep kv.Value (it may be the
	// backend's memory, valid only during the call); an error from fn ends
	// the range and is returned as is. A Rev below the compaction point
	// fails with api.ErrGone, a Rev above the store's revision with
	// api.ErrInvalid.
	Range(ctx context.Context, prefix string, opts RangeOptions, fn func(KV) error) (rev int64, more string, err error)
	// Create stores key only if absent and returns the new revision.
	Create(ctx context.Context, key string, value []byte) (int64, error)
	// Update replaces key's value if its ModRevision equals expected
	// (expected == 0 skips the check) and returns the new revision.
	Update(ctx context.Context, key string, value []byte, expected int64) (int64, error)
	// Delete removes key if its ModRevision equals expected (0 skips the
	// check) and returns the revision of the delete.
	Delete(ctx context.Context, key string, expected int64) (int64, error)
	// Watch streams every change to keys under prefix with a revision greater
	// than rev, in revision order, each exactly once. rev == 0 means "from
	// now". The channel closes when ctx ends, the store closes, or the watcher
	// falls too far behind; the caller then resumes from the last revision it
	// saw. A rev below the compaction point fails with api.ErrGone. An
	// event's KV.Value may be shared with other watchers of the change:
	// read it, never write to it.
	Watch(ctx context.Context, prefix string, rev int64) (<-chan Event, error)
	// Revision returns the current store revision.
	Revision(ctx context.Context) (int64, error)
	// Close releases the store; pending watches end.
	Close() error
}

// RangeOptions say which part of a prefix Range reads.
type RangeOptions struct {
	// After, when set, is a key under the prefix: the range starts at the
	// first key after it (exclusive).
	After string
	// Limit is how many keys to give at most; 0 gives all.
	Limit int
	// Rev is the revision to read at; 0 reads the current state and
	// returns its revision. A later page of a range passes the first
	// page's revision here.
	//
	// etcd reads exactly at Rev. A backend that keeps only the current
	// state (bolt) reads the current state and leaves out the keys created
	// after Rev; the others are given as they are now, possibly changed
	// after Rev, and keys deleted after Rev are missing. Every change after
	// Rev is in the change log, so a watch from Rev still brings a reader of
	// such a page to the current state, as it does for an exact one.
	Rev int64
}

// Compactor is implemented by stores whose change log can be trimmed on
// demand. After Compact(ctx, rev) returns nil, Watch from any revision below
// rev fails with api.ErrGone; Watch from rev itself or later still replays.
// Keys and values are untouched: only the history of changes is dropped.
// The conformance suite exercises it when a store implements it.
type Compactor interface {
	Compact(ctx context.Context, rev int64) error
}
