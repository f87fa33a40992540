package etcd_test

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/humstack/humstack/internal/storage/etcd/etcdtest"
)

// value is a typical stored object: about 1 KiB of JSON.
var value = make([]byte, 1024)

// BenchmarkCreate is bolt's BenchmarkCreate on a one-member embedded etcd
// with fsync on: durable creates from concurrent writers (etcd batches
// proposals, as bolt's group commit does).
func BenchmarkCreate(b *testing.B) {
	for _, perProc := range []int{1, 8, 64} {
		writers := perProc * runtime.GOMAXPROCS(0)
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			c := etcdtest.Start(b, etcdtest.Options{})
			s := open(b, c.Endpoints(), "")
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
	c := etcdtest.Start(b, etcdtest.Options{NoFsync: true})
	s := open(b, c.Endpoints(), "")
	for i := range keys {
		if _, err := s.Create(b.Context(), fmt.Sprintf("/get/%08d", i), value); err != nil {
			b.Fatal(err)
		}
	}
	var next atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Get(b.Context(), fmt.Sprintf("/get/%08d", next.Add(1)%keys)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}
