package loadtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkServerCost drives real apiserver processes (doc.go): for each
// server (current, and baseline with HUMSTACK_BASELINE_REV) create, update
// and get at concurrency 1, 8 and 64, and lists of 10,000 and 100,000 VMs
// with the memory at both sizes. Run it with -benchtime 1x: b.N multiplies
// the op counts.
func BenchmarkServerCost(b *testing.B) {
	for _, sv := range servers(b) {
		b.Run("server="+sv.name, func(b *testing.B) {
			for _, op := range []string{"create", "update", "get"} {
				b.Run(op, func(b *testing.B) {
					for _, c := range []int{1, 8, 64} {
						b.Run(fmt.Sprintf("c=%d", c), func(b *testing.B) { benchOp(b, sv, op, c) })
					}
				})
			}
			b.Run("list", func(b *testing.B) { benchList(b, sv) })
		})
	}
}

// Op counts: at least minOps x b.N ops per scenario and, whatever that
// takes, at least minCPU of the server's CPU, so that a clock tick (10 ms)
// is at most 2 % of the measured CPU; get runs longer for it.
const (
	minOps    = 3000
	minCPU    = 500 * time.Millisecond
	seeded    = 1000 // VMs updated and read by update and get
	seedConc  = 16
	quiesce   = 5 * time.Second
	profileS  = 5 // seconds of a CPU profile
	profiledC = 8 // the concurrency profiled
)

type server struct {
	name, bin string
	// profile is the directory of the profiles (HUMSTACK_BENCH_PROFILE),
	// for the current binary only (the baseline may lack --pprof-address).
	profile string
}

// servers builds the binaries the run compares.
func servers(b *testing.B) []server {
	ctx := b.Context()
	dir := b.TempDir()
	root, err := ModuleRoot(ctx)
	if err != nil {
		b.Fatal(err)
	}
	cur := server{name: "current", bin: os.Getenv("HUMSTACK_APISERVER_BIN"), profile: os.Getenv("HUMSTACK_BENCH_PROFILE")}
	if cur.bin == "" {
		if cur.bin, err = Build(ctx, root, dir, "apiserver-current"); err != nil {
			b.Fatal(err)
		}
	}
	if cur.profile != "" {
		if err := os.MkdirAll(cur.profile, 0o755); err != nil {
			b.Fatal(err)
		}
	}
	out := []server{cur}
	if rev := os.Getenv("HUMSTACK_BASELINE_REV"); rev != "" {
		name, err := RevisionName(ctx, root, rev)
		if err != nil {
			b.Fatal(err)
		}
		bin, err := BuildRevision(ctx, root, rev, dir, "apiserver-baseline")
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("baseline: %s", name)
		out = append(out, server{name: "baseline", bin: bin})
	}
	return out
}

// start runs a fresh server with the group and namespace of the VMs.
func start(b *testing.B, sv server, conns int) *Server {
	s, err := Start(b.Context(), sv.bin, Options{Pprof: sv.profile != "", Conns: conns})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := s.Stop(); err != nil {
			b.Error(err)
		}
	})
	if err := s.Client.Tenancy(b.Context()); err != nil {
		b.Fatal(err)
	}
	return s
}

// benchOp measures one of create, update and get at concurrency c on a
// fresh server: a warm-up of 4c ops (connections, the server's heap), then
// the measured run.
func benchOp(b *testing.B, sv server, op string, c int) {
	ctx := b.Context()
	s := start(b, sv, c)
	opFn := map[string]func(context.Context, int) error{
		"create": s.Client.CreateVM,
		"update": func(ctx context.Context, i int) error { return s.Client.UpdateVM(ctx, i%seeded, i+1) },
		"get":    func(ctx context.Context, i int) error { return s.Client.GetVM(ctx, i%seeded) },
	}[op]
	next := 0
	if op != "create" {
		if err := Seed(ctx, s, 0, seeded, seedConc); err != nil {
			b.Fatal(err)
		}
		next = seeded // update: every op a new generation; get: any
	}
	warm, err := Run(ctx, s.PID(), Load{Concurrency: c, First: next, MinOps: 4 * c, Op: opFn})
	if err != nil {
		b.Fatal(err)
	}
	next += warm.Ops
	if err := Quiesce(ctx, s.PID(), quiesce); err != nil {
		b.Fatal(err)
	}
	l := Load{Concurrency: c, First: next, MinOps: minOps * b.N, MinCPU: minCPU, Op: opFn}
	if sv.profile != "" && c == profiledC {
		file := filepath.Join(sv.profile, fmt.Sprintf("cpu-%s-c%d.pprof", op, c))
		l.During = func(ctx context.Context) error {
			return Profile(ctx, s.PprofAddr, fmt.Sprintf("profile?seconds=%d", profileS), file)
		}
	}
	b.ResetTimer()
	r, err := Run(ctx, s.PID(), l)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("%d ops in %v, server CPU %v", r.Ops, r.Wall.Round(time.Millisecond), r.CPU)
	b.ReportMetric(r.OpsPerSec(), "ops/s")
	b.ReportMetric(ms(r.Percentile(0.50)), "p50-ms")
	b.ReportMetric(ms(r.Percentile(0.99)), "p99-ms")
	b.ReportMetric(ms(r.CPU)/float64(r.Ops), "cpu-ms/op")
	b.ReportMetric(0, "ns/op") // the harness's own time, not a figure
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

const mib = 1 << 20
