package apiserver_test

import (
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/humstack/humstack/client"
)

// BenchmarkWatch100 measures delivery latency to 100 watchers: from the start
// of a create request to each watcher holding the event.
func BenchmarkWatch100(b *testing.B) {
	const watchers = 100
	_, vms := benchEnv(b)
	starts := make([]time.Time, b.N)
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	for w := 0; w < watchers; w++ {
		ch, err := vms.Watch(b.Context(), scopeGNS, 0)
		if err != nil {
			b.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, b.N)
			for i := 0; i < b.N; i++ {
				select {
				case ev := <-ch:
					var n int
					fmt.Sscanf(ev.Object.GetMeta().ID, "vm%d", &n)
					mu.Lock()
					local = append(local, time.Since(starts[n]))
					mu.Unlock()
				case <-time.After(30 * time.Second):
					b.Error("watcher timed out")
					return
				}
			}
			mu.Lock()
			lat = append(lat, local...)
			mu.Unlock()
		}()
	}
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		mu.Lock()
		starts[i] = time.Now()
		mu.Unlock()
		if _, err := vms.Create(b.Context(), newVM(fmt.Sprintf("vm%d", i))); err != nil {
			b.Fatal(err)
		}
	}
	wg.Wait()
	wall := time.Since(start)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	report(b, result{lat, wall})
	b.ReportMetric(float64(len(lat)), "deliveries")
	_ = client.Added
}
