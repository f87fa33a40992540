// Package uitest is the web console's acceptance test in a real browser
// (issue 19), and its first-load benchmark.
//
// TestWebConsole brings up a Secure three-node lab (labtest, as
// internal/scenario does) with the tiny guest served from the hub, prepares
// what only an admin does out of band (an operator token bound to one team
// namespace, an environment of two team copies with a golden state, a
// console link for team a's VMs; testdata/contest.yaml), exposes the API
// server to the host's Chromium through a loopback TCP relay that dials
// into node-a, and runs the browser tests of ui/test/browser with
// `node --test` (node:test and playwright-core driving Debian's
// /usr/bin/chromium; nothing is downloaded). What they need comes in
// environment variables (see the browser tests' lib/env.mjs); their output
// is the test's log; a non-zero exit fails the test. They write the
// screenshots of the main views and ui-artifacts/figures.json (bundle size,
// first-load timings) to $HUMSTACK_UI_ARTIFACTS, by default ui-artifacts/
// at the repository root (docs/ui.md).
//
// BenchmarkUIFirstLoad needs no lab: an in-process API server
// (internal/testenv) serves /ui/ and Chromium loads the sign-in page b.N
// times, each in a fresh browser context; it reports the time until the
// app's first view is rendered (ms/op) for `make bench`.
//
// The package has no code of its own besides this doc: everything is in
// its tests and in ui/test/browser.
package uitest
