package loadtest

import "testing"

// Lists: one server seeded to 10,000 VMs, then to 100,000 (one namespace,
// seedConc creates at a time). At each size: the memory after seeding,
// then lists one after another with the high-water mark reset before them.
const (
	small, large           = 10_000, 100_000
	smallLists, largeLists = 20, 5
	seedChunk              = 30_000 // VMs between two progress lines
)

// benchList reports, at each size: rss-MiB and hwm-MiB (VmRSS, VmHWM),
// anon-MiB and file-MiB (RssAnon, RssFile: with bbolt, file-MiB is the
// database file's pages the server has touched, with the binary's), db-MiB
// (the database file's alone) and heap-MiB (Go heap in use) once seeded; ms/list and cpu-ms/list (the
// server's); hwm-rise-MiB (VmHWM after the lists minus VmRSS before); and
// at 100,000, bytes/object, anon-bytes/object and heap-bytes/object
// between the two sizes.
func benchList(b *testing.B, sv server) {
	ctx := b.Context()
	s := start(b, sv, 1)
	have := 0
	seedTo := func(b *testing.B, n int) Snapshot {
		for have < n {
			to := min(have+seedChunk, n)
			if err := Seed(ctx, s, have, to, seedConc); err != nil {
				b.Fatal(err)
			}
			have = to
			b.Logf("seeded %d VMs", have)
		}
		if err := Quiesce(ctx, s.PID(), quiesce); err != nil {
			b.Fatal(err)
		}
		snap, err := TakeSnapshot(ctx, s)
		if err != nil {
			b.Fatal(err)
		}
		return snap
	}
	at10k := seedTo(b, small)
	if sv.profile != "" {
		if err := Profile(ctx, s.PprofAddr, "heap", profileFile(sv.profile, "heap-10k")); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("n=10k", func(b *testing.B) {
		reportSnapshot(b, at10k)
		reportList(b, s, small, smallLists)
	})
	b.Run("n=100k", func(b *testing.B) {
		at100k := seedTo(b, large)
		reportSnapshot(b, at100k)
		reportList(b, s, large, largeLists)
		b.ReportMetric(float64(at100k.Mem.RSS-at10k.Mem.RSS)/(large-small), "bytes/object")
		b.ReportMetric(float64(at100k.Mem.Anon-at10k.Mem.Anon)/(large-small), "anon-bytes/object")
		b.ReportMetric(float64(at100k.HeapInuse-at10k.HeapInuse)/(large-small), "heap-bytes/object")
	})
}

func reportSnapshot(b *testing.B, s Snapshot) {
	b.ReportMetric(float64(s.Mem.RSS)/mib, "rss-MiB")
	b.ReportMetric(float64(s.Mem.HWM)/mib, "hwm-MiB")
	b.ReportMetric(float64(s.Mem.Anon)/mib, "anon-MiB")
	b.ReportMetric(float64(s.Mem.FilePage)/mib, "file-MiB")
	b.ReportMetric(float64(s.DBFile)/mib, "db-MiB")
	b.ReportMetric(float64(s.HeapInuse)/mib, "heap-MiB")
}

func reportList(b *testing.B, s *Server, n, lists int) {
	r, err := MeasureList(b.Context(), s, n, lists)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(ms(r.Mean), "ms/list")
	b.ReportMetric(ms(r.CPU), "cpu-ms/list")
	b.ReportMetric(float64(r.HWMRise)/mib, "hwm-rise-MiB")
	b.ReportMetric(0, "ns/op")
}
