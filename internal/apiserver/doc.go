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
package apiserver
