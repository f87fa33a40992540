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
package apiserver
