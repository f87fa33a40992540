package storagetest

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/storage"
)

func testCreateRace(t *testing.T, s storage.Store) {
	const racers = 16
	c := ctx(t)
	var wins, exists atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, err := s.Create(c, "/race", []byte(strconv.Itoa(i)))
			switch {
			case err == nil:
				wins.Add(1)
			case errors.Is(err, api.ErrAlreadyExists):
				exists.Add(1)
			default:
				t.Errorf("racer %d: %v", i, err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if wins.Load() != 1 || exists.Load() != racers-1 {
		t.Fatalf("%d creates won and %d saw ErrAlreadyExists, want 1 and %d", wins.Load(), exists.Load(), racers-1)
	}
	kv := mustGet(t, s, "/race")
	if kv.CreateRevision != mustRevision(t, s) {
		t.Fatalf("the winning create is at %d, store revision %d", kv.CreateRevision, mustRevision(t, s))
	}
}

// testCASIncrements runs read-modify-write increments with retry on
// conflict: compare-and-swap must lose no update.
func testCASIncrements(t *testing.T, s storage.Store) {
	const workers, perWorker = 8, 50
	start := mustCreate(t, s, "/counter", "0")
	c := ctx(t)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range perWorker {
				if err := increment(c, s, "/counter"); err != nil {
					t.Errorf("worker %d: %v", w, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	kv := mustGet(t, s, "/counter")
	if string(kv.Value) != strconv.Itoa(workers*perWorker) {
		t.Fatalf("counter = %s, want %d", kv.Value, workers*perWorker)
	}
	if want := start + workers*perWorker; kv.ModRevision != want || mustRevision(t, s) != want {
		t.Fatalf("counter at revision %d, store at %d, want both %d", kv.ModRevision, mustRevision(t, s), want)
	}
}

// increment adds one to the decimal counter at key, retrying on conflict.
func increment(c context.Context, s storage.Store, key string) error {
	for {
		kv, err := s.Get(c, key)
		if err != nil {
			return err
		}
		n, err := strconv.Atoi(string(kv.Value))
		if err != nil {
			return err
		}
		_, err = s.Update(c, key, []byte(strconv.Itoa(n+1)), kv.ModRevision)
		if !errors.Is(err, api.ErrConflict) {
			return err
		}
	}
}
