package loadtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// BenchmarkServerCost drives real apiserver processes (doc.go): for each
// server (current, and baseline with HUMSTACK_BASELINE_REV) create, update
// and get at concurrency 1, 8 and 64, GET /healthz likewise (TLS, HTTP and
// the middleware, no authentication, no store), and lists of 10,000 and
// 100,000 VMs with the memory at both sizes; and get and healthz of the
// reference server floorserver (server=floor), the floor of Go's TLS and
// HTTP/1.1 serving beside them. Run it with -benchtime 1x: b.N multiplies
// the op counts.
func BenchmarkServerCost(b *testing.B) {
	for _, sv := range servers(b) {
		b.Run("server="+sv.name, func(b *testing.B) {
			for _, op := range sv.ops {
				b.Run(op, func(b *testing.B) {
					for _, c := range []int{1, 8, 64} {
						b.Run(fmt.Sprintf("c=%d", c), func(b *testing.B) { benchOp(b, sv, op, c) })
					}
				})
			}
			if sv.list {
				b.Run("list", func(b *testing.B) { benchList(b, sv) })
			}
		})
	}
}

// Op counts: at least minOps x b.N ops per scenario and, whatever that
// takes, at least minCPU of the server's CPU, so that a clock tick (10 ms)
// is at most 2 % of the measured CPU, and at least minWall: every run as
// long as a profiled one (a profile lasts profileS), since a short run
// measures more of the server's warming up (its heap, the scheduler) and
// of a passing burst of other work on the machine.
const (
	minOps    = 3000
	minCPU    = 500 * time.Millisecond
	minWall   = profileS * time.Second
	seeded    = 1000 // VMs updated and read by update and get
	seedConc  = 16
	quiesce   = 5 * time.Second
	profileS  = 5 // seconds of a CPU profile
	profiledC = 8 // the concurrency profiled
)

type server struct {
	name, bin string
	// ops are the op scenarios the server runs; list says whether it runs
	// the lists. The floor, which stores nothing, runs get and healthz.
	ops  []string
	list bool
	// profile is the directory of the profiles (HUMSTACK_BENCH_PROFILE),
	// for the current binary only (the baseline may lack --pprof-address).
	profile string
}

// servers builds the binaries the run compares, once per process (-count
// repeats the benchmark with the same binaries); they are removed when the
// process ends (TestMain).
func servers(b *testing.B) []server {
	built.once.Do(func() { built.servers, built.err = buildServers(b.Context()) })
	if built.err != nil {
		b.Fatal(built.err)
	}
	return built.servers
}

var built struct {
	once    sync.Once
	dir     string
	servers []server
	err     error
}

func buildServers(ctx context.Context) ([]server, error) {
	root, err := ModuleRoot(ctx)
	if err != nil {
		return nil, err
	}
	if built.dir, err = os.MkdirTemp("", "humstack-loadtest-bin-"); err != nil {
		return nil, err
	}
	cur := server{name: "current", bin: os.Getenv("HUMSTACK_APISERVER_BIN"), profile: os.Getenv("HUMSTACK_BENCH_PROFILE"),
		ops: apiserverOps, list: true}
	if cur.bin == "" {
		if cur.bin, err = Build(ctx, root, built.dir, "apiserver-current"); err != nil {
			return nil, err
		}
	}
	if cur.profile != "" {
		if err := os.MkdirAll(cur.profile, 0o755); err != nil {
			return nil, err
		}
	}
	out := []server{cur}
	if rev := os.Getenv("HUMSTACK_BASELINE_REV"); rev != "" {
		name, err := RevisionName(ctx, root, rev)
		if err != nil {
			return nil, err
		}
		bin, err := BuildRevision(ctx, root, rev, built.dir, "apiserver-baseline")
		if err != nil {
			return nil, err
		}
		fmt.Printf("baseline: %s\n", name)
		out = append(out, server{name: "baseline", bin: bin, ops: apiserverOps, list: true})
	}
	// The floor always runs: it is cheap (a small binary, six short
	// scenarios) and only comparable with the apiserver's figures when
	// measured in the same run, under the same load of the machine.
	floor, err := BuildPackage(ctx, root, FloorPackage, built.dir, "floorserver")
	if err != nil {
		return nil, err
	}
	return append(out, server{name: "floor", bin: floor, ops: []string{"get", "healthz"}}), nil
}

// apiserverOps are the apiserver's op scenarios.
var apiserverOps = []string{"create", "update", "get", "healthz"}

// TestMain removes the binaries the benchmark built.
func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		_ = os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// start runs a fresh server with the group and namespace of the VMs. Its
// client keeps enough connections for the seeding too: one closed after
// each request would cost a TLS handshake per create.
func start(b *testing.B, sv server, conns int) *Server {
	s, err := Start(b.Context(), sv.bin, Options{Pprof: sv.profile != "", Conns: max(conns, seedConc)})
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

// benchOp measures one of create, update, get and healthz at concurrency c on a
// fresh server: a warm-up of 4c ops (connections, the server's heap), then
// the measured run.
func benchOp(b *testing.B, sv server, op string, c int) {
	ctx := b.Context()
	s := start(b, sv, c)
	opFn := map[string]func(context.Context, int) error{
		"create":  s.Client.CreateVM,
		"update":  func(ctx context.Context, i int) error { return s.Client.UpdateVM(ctx, i%seeded, i+1) },
		"get":     func(ctx context.Context, i int) error { return s.Client.GetVM(ctx, i%seeded) },
		"healthz": func(ctx context.Context, _ int) error { return s.Client.Healthz(ctx) },
	}[op]
	next := 0
	if op == "update" || op == "get" {
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
	l := Load{Concurrency: c, First: next, MinOps: minOps * b.N, MinWall: minWall * time.Duration(b.N), MinCPU: minCPU, Op: opFn}
	if sv.profile != "" && c == profiledC {
		file := profileFile(sv.profile, fmt.Sprintf("cpu-%s-c%d", op, c))
		l.During = func(ctx context.Context) error {
			return Profile(ctx, s.PprofAddr, fmt.Sprintf("profile?seconds=%d", profileS), file)
		}
	}
	b.ResetTimer()
	r, err := Run(ctx, s.PID(), l)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("%d ops in %v, server CPU %v, load average %s", r.Ops, r.Wall.Round(time.Millisecond), r.CPU, loadAvg())
	b.ReportMetric(r.OpsPerSec(), "ops/s")
	b.ReportMetric(ms(r.Percentile(0.50)), "p50-ms")
	b.ReportMetric(ms(r.Percentile(0.99)), "p99-ms")
	b.ReportMetric(ms(r.CPU)/float64(r.Ops), "cpu-ms/op")
	b.ReportMetric(0, "ns/op") // the harness's own time, not a figure
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

const mib = 1 << 20

// profileFile returns dir/name.pprof, or dir/name-2.pprof and so on when
// an earlier round of -count wrote that one.
func profileFile(dir, name string) string {
	file := filepath.Join(dir, name+".pprof")
	for n := 2; ; n++ {
		if _, err := os.Stat(file); os.IsNotExist(err) {
			return file
		}
		file = filepath.Join(dir, fmt.Sprintf("%s-%d.pprof", name, n))
	}
}

// loadAvg is the machine's 1-minute load average, for the log: the
// figures depend on what else runs on the cores.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) > 0 {
		return f[0]
	}
	return "?"
}
