package leader

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/testenv"
)

// candidate is one elector in a test, with its own stop.
type candidate struct {
	e       *Elector
	leading atomic.Bool
	cancel  context.CancelFunc
	done    chan struct{} // closed when Start returned
}

// race starts n electors with short timings; lead fails the test if two
// lead at once.
func race(t *testing.T, c *client.Client, n int) []*candidate {
	var now atomic.Int32
	var cs []*candidate
	for i := range n {
		cd := &candidate{done: make(chan struct{})}
		cd.e = New(Config{
			Client: c, Identity: fmt.Sprintf("node-%d", i), LeaseDuration: time.Second,
			RenewPeriod: 200 * time.Millisecond, RetryPeriod: 100 * time.Millisecond,
			Log: slog.New(slog.DiscardHandler),
		}, func(ctx context.Context) error {
			if now.Add(1) > 1 {
				t.Errorf("two leaders at once")
			}
			cd.leading.Store(true)
			<-ctx.Done()
			cd.leading.Store(false)
			now.Add(-1)
			return nil
		})
		ctx, cancel := context.WithCancel(context.Background())
		cd.cancel = cancel
		go func() {
			defer close(cd.done)
			if err := cd.e.Start(ctx); err != nil {
				t.Errorf("elector: %v", err)
			}
		}()
		t.Cleanup(func() { cancel(); <-cd.done })
		cs = append(cs, cd)
	}
	return cs
}

// leader waits up to d for exactly one leader among cs and returns it.
func leader(t *testing.T, cs []*candidate, d time.Duration) *candidate {
	t.Helper()
	var found *candidate
	testenv.Eventually(t, d, func() (bool, string) {
		found = nil
		for _, c := range cs {
			if c.leading.Load() {
				found = c
			}
		}
		return found != nil, "no leader"
	})
	return found
}

func (c *candidate) stop(crash bool) {
	c.e.crash = crash
	c.cancel()
	<-c.done
}

// TestOneLeaderAndFailover: of three candidates one leads; when it dies
// without releasing (a killed agent) another takes over after the lease
// expires; when that one stops cleanly it releases and the last takes over
// at once. The lease records holder and transitions.
func TestOneLeaderAndFailover(t *testing.T) {
	env := testenv.Start(t)
	cs := race(t, env.Client, 3)
	first := leader(t, cs, 5*time.Second)

	first.stop(true)
	start := time.Now()
	second := leader(t, cs, 5*time.Second)
	took := time.Since(start)
	if second == first || took < 900*time.Millisecond {
		t.Fatalf("takeover after a crash in %v (lease 1 s)", took)
	}

	second.stop(false)
	start = time.Now()
	third := leader(t, cs, 5*time.Second)
	if third == second || third == first || time.Since(start) > 700*time.Millisecond {
		t.Fatalf("takeover after a release took %v", time.Since(start))
	}
	l, err := client.For[*api.Lease](env.Client).Get(t.Context(), client.Scope{}, DefaultLease)
	if err != nil {
		t.Fatal(err)
	}
	if l.Spec.HolderIdentity != third.e.cfg.Identity || l.Spec.LeaseTransitions != 2 {
		t.Fatalf("lease holder %q, transitions %d; want %s, 2", l.Spec.HolderIdentity, l.Spec.LeaseTransitions, third.e.cfg.Identity)
	}
}

// TestStolenLeaseStopsLeader: when the lease is taken from under the
// leader (here: a manual update), it stops leading at its next renewal.
func TestStolenLeaseStopsLeader(t *testing.T) {
	env := testenv.Start(t)
	cs := race(t, env.Client, 1)
	leader(t, cs, 5*time.Second)
	leases := client.For[*api.Lease](env.Client)
	var mu sync.Mutex
	mu.Lock()
	l, err := leases.Get(t.Context(), client.Scope{}, DefaultLease)
	if err != nil {
		t.Fatal(err)
	}
	l.Spec.HolderIdentity = "intruder"
	l.Spec.LeaseDurationSeconds = 60
	if _, err := leases.Update(t.Context(), l); err != nil {
		t.Fatal(err)
	}
	mu.Unlock()
	testenv.Eventually(t, 2*time.Second, func() (bool, string) {
		return !cs[0].leading.Load(), "still leading after the lease was taken"
	})
}

// TestForbiddenLeaseSaysWhy: on an RBAC cluster where the node is not
// bound to core-agent, the lease is refused with 403; the elector says
// once what to do and keeps trying (the binding may come later).
func TestForbiddenLeaseSaysWhy(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"code":403,"error":"node node-a may not get lease leader","data":null}`))
	}))
	defer srv.Close()
	c, err := client.New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	var logs testenv.SyncBuffer
	e := New(Config{Client: c, Identity: "node-a", LeaseDuration: time.Second, RenewPeriod: 200 * time.Millisecond,
		RetryPeriod: 20 * time.Millisecond, Log: slog.New(slog.NewTextHandler(&logs, nil))},
		func(context.Context) error { t.Error("led without the lease"); return nil })
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(logs.String(), "bind it to the role core-agent"); n != 1 || calls.Load() < 3 {
		t.Fatalf("%d warnings in %d tries, want 1 and retries:\n%s", n, calls.Load(), logs.String())
	}
}
