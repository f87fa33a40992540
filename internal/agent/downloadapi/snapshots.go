package downloadapi

import (
	"log/slog"
	"net/http"

	"github.com/humstack/humstack/api"
)

// snapshotPattern is the route of one file of a snapshot this node holds.
const snapshotPattern = "/v0/snapshots/{group}/{namespace}/{id}/{file}"

// SnapshotPath is the URL path of file (memory.state, disk<N>.qcow2) of
// snapshot group/namespace/id; the IDs must be valid (api.IsID).
func SnapshotPath(group, namespace, id, file string) string {
	return "/v0/snapshots/" + group + "/" + namespace + "/" + id + "/" + file
}

// SnapshotFiles maps a snapshot's file to its path on this node: "" when
// this node does not hold a Ready snapshot with that file name.
type SnapshotFiles interface {
	SnapshotFile(group, namespace, id, file string) string
}

// SnapshotRoutes serves snapshot files to other nodes (a RouteSet).
type SnapshotRoutes struct {
	Files SnapshotFiles
	Log   *slog.Logger
}

// Register implements RouteSet.
func (s SnapshotRoutes) Register(r Registrar) {
	log := s.Log
	if log == nil {
		log = slog.Default()
	}
	r.HandleFunc("GET "+snapshotPattern, func(w http.ResponseWriter, r *http.Request) {
		g, ns, id := r.PathValue("group"), r.PathValue("namespace"), r.PathValue("id")
		if !api.IsID(g) || !api.IsID(ns) || !api.IsID(id) {
			http.Error(w, "bad id in path", http.StatusBadRequest)
			return
		}
		path := s.Files.SnapshotFile(g, ns, id, r.PathValue("file"))
		if path == "" {
			http.Error(w, "no such snapshot file on this node", http.StatusNotFound)
			return
		}
		serveFile(w, r, path, log)
	})
}
