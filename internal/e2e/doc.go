// Package e2e holds process-level tests: they build the real binaries and
// run them as separate processes, to prove what in-process tests cannot
// (durability across kill -9, watches resuming across a restart).
package e2e
