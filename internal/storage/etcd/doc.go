// Package etcd is the etcd backend of storage.Store, on the official
// go.etcd.io/etcd/client/v3. It adds nothing to etcd's own model: the
// store's revisions, compare-and-swap and watches are etcd's, so several
// apiservers on one etcd cluster agree on every resourceVersion and a watch
// resumes on any of them.
//
// # Layout
//
// Every key lives under a prefix (Config.Prefix, default "/humstack/"):
// the store key "/vms/g/ns/a" is the etcd key "/humstack/vms/g/ns/a". The
// value is the store's value, unchanged. Nothing else is written, so
// `etcdctl get --prefix /humstack/` shows the whole state, and several
// installations can share a cluster under different prefixes.
//
// # Mapping
//
//	Create       Txn(If CreateRevision(k) == 0, Then Put)
//	Update       Txn(If ModRevision(k) == expected  [or CreateRevision > 0], Then Put, Else Get)
//	Delete       Txn(If ModRevision(k) == expected  [or CreateRevision > 0], Then Delete, Else Get)
//	List         Get(prefix) at one revision, in pages
//	Watch(rev)   Watch(prefix, WithRev(rev+1), WithPrevKV): a delete carries the last value
//	Revision     the header revision of a count-only Get
//	Compact(rev) Compact(rev+1): etcd keeps revision rev+1 onwards, which is
//	             exactly what a watch from rev needs
//
// # Watches
//
// One etcd watch of the whole prefix (the tail, tail.go) is shared by every
// watcher that starts at or after the revision it has reached: each change
// crosses the network once per apiserver, not once per watcher, and is
// fanned out in process. A watcher whose buffer fills is closed and
// resumes, as with bolt. A watcher from an older revision gets its own etcd
// watch, which replays the history from etcd.
//
// A failed precondition writes nothing, so the revision moves only on
// success, as the conformance suite requires. etcd's errors come back as the
// api classes: a compacted revision is api.ErrGone; no leader or no
// reachable member is api.ErrUnavailable.
//
// # Compaction
//
// The store does not compact by itself: several apiservers share the
// cluster, and etcd compacts on its own when started with
// --auto-compaction-mode/--auto-compaction-retention (see docs/ha.md).
package etcd
