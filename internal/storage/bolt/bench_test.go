package bolt_test

import (
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/humstack/humstack/internal/storage/bolt"
)

// value is a typical stored object: about 1 KiB of JSON.
var value = make([]byte, 1024)

func openBench(b *testing.B) *bolt.Store {
	b.Helper()
	s, err := bolt.Open(filepath.Join(b.TempDir(), "bench.db"), bolt.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return s
}

// fill creates n keys under prefix with 32 concurrent writers.
func fill(b *testing.B, s *bolt.Store, prefix string, n int) {
	b.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1); i <= int64(n); i = next.Add(1) {
				if _, err := s.Create(b.Context(), fmt.Sprintf("%s%08d", prefix, i), value); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// BenchmarkCreate measures durable creates from concurrent writers: each
// returns only after its fsync, which group commit shares between writers.
func BenchmarkCreate(b *testing.B) {
	for _, perProc := range []int{1, 8, 64} {
		writers := perProc * runtime.GOMAXPROCS(0)
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			s := openBench(b)
			var next atomic.Int64
			b.SetParallelism(perProc)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					key := fmt.Sprintf("/bench/%d", next.Add(1))
					if _, err := s.Create(b.Context(), key, value); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
		})
	}
}

// BenchmarkGet measures parallel point reads among 10,000 keys.
func BenchmarkGet(b *testing.B) {
	const keys = 10_000
	s := openBench(b)
	fill(b, s, "/get/", keys)
	var next atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			key := fmt.Sprintf("/get/%08d", next.Add(1)%keys+1)
			if _, err := s.Get(b.Context(), key); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

// BenchmarkList10k measures listing a prefix of 10,000 keys of 1 KiB.
func BenchmarkList10k(b *testing.B) {
	const keys = 10_000
	s := openBench(b)
	fill(b, s, "/list/", keys)
	fill(b, s, "/other/", 1000)
	for b.Loop() {
		list, _, err := s.List(b.Context(), "/list/")
		if err != nil || len(list) != keys {
			b.Fatalf("List = %d keys, %v; want %d", len(list), err, keys)
		}
	}
	b.ReportMetric(float64(b.N*keys)/b.Elapsed().Seconds(), "keys/s")
}
