// Package loadtest is humstack's external load generator: it drives real
// apiserver processes over loopback from another process (the benchmark)
// and measures what each request costs the server, for issue 21's
// acceptance (docs/benchmarks.md).
//
// BenchmarkServerCost builds ./cmd/apiserver of this module with go build
// (or takes the binary in HUMSTACK_APISERVER_BIN) and runs it as a child
// with the shipped defaults: HTTPS with the cluster CA made at first start
// (the client trusts <data-dir>/pki/ca.crt), RBAC with the bootstrap admin
// token (<data-dir>/admin.token), metrics and events on, bolt in a temp
// dir. With HUMSTACK_BASELINE_REV=<git rev> it also builds the apiserver
// of that revision (a detached git worktree, removed after the build) and
// runs the same scenarios against it in the same run: the results are the
// sub-benchmarks server=current/... and server=baseline/....
//
// Scenarios, each on a fresh server and data dir:
//
//   - create, update, get at c=1, 8, 64: VMs in one namespace (update and
//     get on 1,000 seeded VMs). After a warm-up of 4c ops, c workers run
//     ops until at least 3,000 x b.N have answered, 5 s x b.N have passed
//     (as long as a profile, so that profiled and other runs compare) and
//     the server has used at least 500 ms of CPU (a clock tick is then at
//     most 2 % of it).
//     Reported: ops/s, p50-ms, p99-ms, and cpu-ms/op, the server's user +
//     system time (/proc/<pid>/stat, in clock ticks from the auxiliary
//     vector's AT_CLKTCK) over the run divided by the ops.
//   - healthz at c=1, 8, 64, likewise: GET /healthz, the floor of a request
//     (TLS, HTTP, the middleware; no authentication, no store).
//   - list: one server seeded (16 creates at a time) to 10,000 VMs and then
//     to 100,000. At each size, once the server is idle: rss-MiB, hwm-MiB
//     (VmRSS, VmHWM of /proc/<pid>/status), its parts anon-MiB and file-MiB
//     (RssAnon, RssFile: the binary's pages and, with bbolt, the database
//     file's pages the server has touched through its mmap, which are page
//     cache), db-MiB (the database file's alone, from /proc/<pid>/smaps)
//     and heap-MiB
//     (go_memstats_heap_inuse_bytes of /metrics); then lists one after
//     another (20 at 10k, 5 at 100k) after resetting VmHWM to the current
//     RSS (/proc/<pid>/clear_refs "5"): ms/list (request to last byte),
//     cpu-ms/list and hwm-rise-MiB (VmHWM after the lists minus VmRSS
//     before). At 100k also bytes/object, (RSS at 100k - RSS at 10k) /
//     90,000, and anon-bytes/object and heap-bytes/object likewise.
//
// Every run also builds floorserver (./internal/loadtest/floorserver), a
// small reference server: net/http and crypto/tls set up as the
// apiserver's, a self-signed ECDSA P-256 certificate, no authentication
// and no store, a fixed VM of the apiserver's answer's size. It runs the
// get and healthz scenarios as server=floor/...: what Go's TLS and
// HTTP/1.1 serving alone cost per request on the machine, measured beside
// the apiserver in the same run (the floor of the apiserver's cpu-ms/op).
// It always runs: it is cheap (under a minute) and only comparable within
// a run; -bench 'ServerCost/server=current' leaves it out.
//
// With HUMSTACK_BENCH_PROFILE=<dir>, the current server runs with
// --pprof-address on loopback and the benchmark writes a 5 s CPU profile
// of each c=8 scenario (cpu-create-c8.pprof, ...) and a heap profile after seeding 10,000 VMs
// (heap-10k.pprof) into dir. Profiling costs the server a little CPU.
//
// The figures depend on what else runs on the machine's cores (each op
// scenario logs the load average). Comparing servers, -count N repeats the
// whole benchmark, current and baseline in turn, with the same binaries.
//
// The generator is light on purpose, since it shares the machine's cores
// with the server: prepared JSON bodies, answers read and discarded
// unparsed (status checked), HTTP/1.1 with one connection per worker like
// humstack's Go client. Children are stopped by PID (SIGTERM, SIGKILL
// after 10 s) and get SIGKILL should the benchmark die first.
package loadtest
