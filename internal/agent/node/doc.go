// Package node is a node agent's own object, systemv0/node: registration
// (spec: address, capacity, mode, accelerator, version), the heartbeat that
// keeps status Ready, and the Core liveness controller that marks a node
// NotReady when its heartbeats stop. The node's allocation is the API
// server's ledger; the agent reads it (metrics) and never writes it.
package node
