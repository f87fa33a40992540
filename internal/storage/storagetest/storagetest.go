// Package storagetest is the conformance suite for storage.Store: every
// backend runs Run against fresh stores and must pass it unchanged. The suite
// checks the contract documented in package storage and nothing else, so a
// backend that passes it can replace another without callers noticing.
package storagetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/humstack/humstack/internal/storage"
)

// timeout bounds every wait of the suite, so a broken store fails instead of
// hanging the test binary.
const timeout = 10 * time.Second

// Run runs the conformance suite. newStore must return a new, empty store
// and arrange (with t.Cleanup) for it to be closed; the suite closes some
// stores itself, so Close must tolerate a second call.
func Run(t *testing.T, newStore func(t *testing.T) storage.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s storage.Store)
	}{
		{"CreateGet", testCreateGet},
		{"GetMissing", testGetMissing},
		{"Update", testUpdate},
		{"Delete", testDelete},
		{"RecreateAfterDelete", testRecreateAfterDelete},
		{"RevisionsIncreaseByOne", testRevisionsIncreaseByOne},
		{"FailedWritesKeepRevision", testFailedWritesKeepRevision},
		{"ErrorsNameKey", testErrorsNameKey},
		{"ValueIsolation", testValueIsolation},
		{"ListOrderAndRevision", testListOrderAndRevision},
		{"ListPrefixIsolation", testListPrefixIsolation},
		{"RangeOrderAndRevision", testRangeOrderAndRevision},
		{"RangeAfterAndLimit", testRangeAfterAndLimit},
		{"RangeManyPages", testRangeManyPages},
		{"RangeAtRevision", testRangeAtRevision},
		{"RangeRevisionErrors", testRangeRevisionErrors},
		{"RangeCallbackError", testRangeCallbackError},
		{"WatchFromNow", testWatchFromNow},
		{"WatchReplay", testWatchReplay},
		{"WatchReplayConcurrentWriters", testWatchReplayConcurrentWriters},
		{"WatchEventKinds", testWatchEventKinds},
		{"WatchPrefix", testWatchPrefix},
		{"WatchFutureRevision", testWatchFutureRevision},
		{"WatchCancel", testWatchCancel},
		{"WatchManyWatchers", testWatchManyWatchers},
		{"Compaction", testCompaction},
		{"CloseEndsWatches", testCloseEndsWatches},
		{"CreateRace", testCreateRace},
		{"CASIncrements", testCASIncrements},
		{"DeferredWrites", testDeferredWrites},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}

// ctx returns a context for one store call that ends with the test or after
// timeout, whichever comes first.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), timeout)
	t.Cleanup(cancel)
	return c
}

func mustCreate(t *testing.T, s storage.Store, key, value string) int64 {
	t.Helper()
	rev, err := s.Create(ctx(t), key, []byte(value))
	if err != nil {
		t.Fatalf("Create(%q): %v", key, err)
	}
	return rev
}

func mustUpdate(t *testing.T, s storage.Store, key, value string, expected int64) int64 {
	t.Helper()
	rev, err := s.Update(ctx(t), key, []byte(value), expected)
	if err != nil {
		t.Fatalf("Update(%q, expected %d): %v", key, expected, err)
	}
	return rev
}

func mustDelete(t *testing.T, s storage.Store, key string, expected int64) int64 {
	t.Helper()
	rev, err := s.Delete(ctx(t), key, expected)
	if err != nil {
		t.Fatalf("Delete(%q, expected %d): %v", key, expected, err)
	}
	return rev
}

func mustGet(t *testing.T, s storage.Store, key string) storage.KV {
	t.Helper()
	kv, err := s.Get(ctx(t), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return kv
}

func mustRevision(t *testing.T, s storage.Store) int64 {
	t.Helper()
	rev, err := s.Revision(ctx(t))
	if err != nil {
		t.Fatalf("Revision: %v", err)
	}
	return rev
}

func mustWatch(t *testing.T, s storage.Store, c context.Context, prefix string, rev int64) <-chan storage.Event {
	t.Helper()
	ch, err := s.Watch(c, prefix, rev)
	if err != nil {
		t.Fatalf("Watch(%q, %d): %v", prefix, rev, err)
	}
	return ch
}

// checkKV fails unless kv has exactly the given fields.
func checkKV(t *testing.T, kv storage.KV, key, value string, createRev, modRev int64) {
	t.Helper()
	if kv.Key != key || !bytes.Equal(kv.Value, []byte(value)) ||
		kv.CreateRevision != createRev || kv.ModRevision != modRev {
		t.Fatalf("got KV{%q, %q, create %d, mod %d}, want KV{%q, %q, create %d, mod %d}",
			kv.Key, kv.Value, kv.CreateRevision, kv.ModRevision, key, value, createRev, modRev)
	}
}

// checkErr fails unless err is of class want and its message names key.
func checkErr(t *testing.T, err, want error, key string) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("got error %v, want class %q", err, want)
	}
	if !strings.Contains(err.Error(), key) {
		t.Fatalf("error %q does not name key %q", err, key)
	}
	if r, _ := utf8.DecodeRuneInString(err.Error()); unicode.IsUpper(r) {
		t.Fatalf("error %q does not start in lower case", err)
	}
}

// recv returns the next event of ch; it fails if ch closes or stays silent
// for timeout. Call it only from the test goroutine.
func recv(t *testing.T, ch <-chan storage.Event) storage.Event {
	t.Helper()
	ev, err := tryRecv(ch)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// tryRecv is recv for any goroutine: it reports failure as an error.
func tryRecv(ch <-chan storage.Event) (storage.Event, error) {
	select {
	case ev, ok := <-ch:
		if !ok {
			return ev, errors.New("watch channel closed early")
		}
		return ev, nil
	case <-time.After(timeout):
		return storage.Event{}, fmt.Errorf("no event within %v", timeout)
	}
}

// checkEvent fails unless ev is exactly the given change.
func checkEvent(t *testing.T, ev storage.Event, typ storage.EventType, key, value string, createRev, modRev int64) {
	t.Helper()
	if ev.Type != typ {
		t.Fatalf("event at revision %d for %q: got type %d, want %d", ev.KV.ModRevision, ev.KV.Key, ev.Type, typ)
	}
	checkKV(t, ev.KV, key, value, createRev, modRev)
}

// expectClosed drains ch and fails unless it closes within timeout.
func expectClosed(t *testing.T, ch <-chan storage.Event) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatalf("watch channel still open after %v", timeout)
		}
	}
}
