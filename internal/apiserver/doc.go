// Package apiserver serves humstack's REST and watch API over a
// storage.Store. One generic handler set serves every kind in the api
// registry; the only per-kind behaviour comes from internal/registry.
//
// Objects are stored as JSON without their resourceVersion, which is the
// store's ModRevision and is spliced into responses. Store keys:
//
//	/{plural}/{id}                       cluster kinds (groups, nodes, externalippools)
//	/{plural}/{group}/{id}               group kinds (namespaces, images, imageentities)
//	/{plural}/{group}/{namespace}/{id}   namespaced kinds
//
// Ids are DNS labels, so a prefix ending in "/" never matches another scope
// ("/networks/g/" never sees "/networks/g1/...").
//
// With Options.Metrics the server serves GET /metrics (Prometheus, a
// registry of its own: metrics.go), times its store through
// storage/storemetrics and counts objects per kind from a watch
// (metrics_objects.go).
//
// Writes of VMs and disks draw on their node's capacity ledger (the node's
// status.reservations), which only the server writes: admission under
// compare-and-swap (ledger.go), the server-owned node status
// (ledger_node.go) and a repair loop for what admission cannot see
// (repair.go). docs/placement.md describes it.
package apiserver
