// Package bolt is the bbolt backend of storage.Store: one file, durable
// writes, a change log for watches.
//
// # Layout
//
// The database holds three top-level buckets:
//
//	kv                    // the current state: one entry per live key
//	╰──<key>              // record: uvarint createRev, uvarint modRev, value
//	log                   // the change log, in revision order
//	╰──<rev>              // 8-byte big-endian revision → event:
//	                      //   byte type (1 put, 2 delete), uvarint len(key),
//	                      //   key, uvarint createRev, value (for a delete, the
//	                      //   key's last value)
//	meta                  // store-wide counters, 8-byte big-endian each
//	├──rev                // current revision: the last write's
//	╰──compacted          // log entries at or below it are deleted
//
// Every write increments rev by one and adds exactly one log entry in the
// same transaction, so the log holds every revision in (compacted, rev].
//
// # Writes
//
// One committer goroutine owns writes. Callers hand it an op and wait; it
// takes the first op, drains whatever else is already queued, applies them
// all in order in one bbolt transaction (each op checks its own precondition
// there and records a logical error without writing), commits once, then
// answers every caller. A commit fsyncs before anyone is answered, so a nil
// error means durable; under load many writes share one fsync, and a lone
// write waits for nothing but its own.
//
// Deferred writes (storage.DeferSync) are answered as soon as they are
// applied, before the commit, and are visible to Get meanwhile (pending);
// the transaction stays open, at most deferLinger, until the writes that
// end their sequences (storage.WithSequence) have come, and one commit
// makes them all durable. A create that reserves an address, a node's
// room and a quota costs one commit instead of four (defer.go).
//
// # Watches
//
// After each commit the committer hands the commit's events to one tailer
// goroutine, in memory, which fans them out to the watchers whose prefix
// matches; the log is read back only to replay for a new watcher. A new watcher registers
// under the tailer's lock at its position P, replays (rev, P] from the log,
// then forwards the live events after P: no gap, no duplicate. A watcher
// whose buffer fills is closed rather than slowing the others; its caller
// resumes from the last revision it saw.
//
// # Compaction
//
// A background goroutine keeps the last Options.Retention revisions of the
// log and deletes older entries; Store.Compact does the same on demand.
// Watching from a revision below the compaction point fails with
// api.ErrGone.
package bolt
