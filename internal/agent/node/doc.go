// Package node is a node agent's own object, systemv0/node: registration
// (spec: address, capacity, mode, accelerator, version), the heartbeat that
// keeps status Ready and the allocated resources current, and the Core
// liveness controller that marks a node NotReady when its heartbeats stop.
package node
