package storage

import "context"

type deferKey struct{}

// DeferSync marks the writes made with the returned context as the first
// of a sequence whose last write the caller waits for anyway: an address
// reservation in the IPAM ledger, followed by the object that holds it.
// A store may answer such a write before it is durable, once it is applied
// and visible to Get and to later writes, and make it durable together
// with the next write answered without the mark (or, if none comes soon,
// on its own a moment later). So it costs no durable commit of its own.
//
// What a caller may rely on is unchanged where it matters: a write
// answered without the mark is durable, and so is every write answered
// before it. A crash may lose a deferred write whose follow-up was never
// answered; the caller must be ready for that, as it is for a crash
// between the two writes. Stores that cannot defer ignore the mark (etcd:
// every write is durable when answered).
func DeferSync(ctx context.Context) context.Context {
	return context.WithValue(ctx, deferKey{}, true)
}

// SyncDeferred reports whether ctx carries DeferSync's mark.
func SyncDeferred(ctx context.Context) bool {
	v, _ := ctx.Value(deferKey{}).(bool)
	return v
}

type sequenceKey struct{}

// Sequence ties deferred writes to the write that ends them: a request
// handler starts one (WithSequence) before admission, the admitters'
// deferred writes carry it, and so does the object's write, which is not
// deferred. A store that holds deferred writes back for the write that
// follows them then knows which write that is, and commits as soon as it
// has come, rather than after a guess of how long to wait.
type Sequence struct{ _ byte } // not zero-sized: every one a distinct pointer

// WithSequence returns ctx carrying a new sequence.
func WithSequence(ctx context.Context) context.Context {
	return context.WithValue(ctx, sequenceKey{}, new(Sequence))
}

// SequenceOf returns ctx's sequence, or nil.
func SequenceOf(ctx context.Context) *Sequence {
	s, _ := ctx.Value(sequenceKey{}).(*Sequence)
	return s
}
