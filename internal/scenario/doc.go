// Package scenario holds the end-to-end test of SPEC §6, the reference
// scenario: the YAML files of examples/scenario applied with humcli to a
// 3-node lab, checked step by step, with restarts of the control plane
// and the agents, and repeated until it is clear nothing leaks. It has no
// code of its own; see scenario_test.go.
package scenario
