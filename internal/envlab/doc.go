// Package envlab proves environments, golden states and resets (issue 18)
// in the lab, end to end with real agents and QEMU under TCG: the
// acceptance test (TestEnvironmentAcceptance) and the benchmarks of
// `make bench` (BenchmarkEnvReset, BenchmarkEnvStamp). The package has no
// code of its own besides this doc: everything is in its tests, and the
// templates they stamp out are in testdata.
package envlab
