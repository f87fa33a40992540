// Package downloadapi is the node-to-node transfer endpoint of System
// agents (the seed's downloadAPI): another node fetches a disk or an image
// entity this node holds, to cache an image or move a disk.
//
// It is not an open file server. The node listener (Listener, rules.go)
// serves every route behind its row of one rule table: who may call it, by
// a node or API server certificate of the cluster CA over mutual TLS
// (peer.go, on joined nodes) or by the cluster's shared secret as a bearer
// token (compared in constant time; deprecated). Only GET and HEAD of the
// table's paths are served, and a file path is built only from IDs that
// pass api.IsID, so no request can name a file outside the disk and image
// directories. Files are served with http.ServeContent, so a
// client may resume an interrupted transfer with a Range request.
package downloadapi

import (
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"os"

	"github.com/humstack/humstack/api"
)

// URL paths of the two kinds of file.
const (
	blockStoragePattern = "/v0/blockstorages/{group}/{namespace}/{id}"
	imageEntityPattern  = "/v0/imageentities/{group}/{id}"
)

// BlockStoragePath and ImageEntityPath are the URL paths of a disk and of
// an image entity's file; the IDs must be valid (api.IsID).
func BlockStoragePath(group, namespace, id string) string {
	return "/v0/blockstorages/" + group + "/" + namespace + "/" + id
}

// ImageEntityPath: see BlockStoragePath.
func ImageEntityPath(group, id string) string { return "/v0/imageentities/" + group + "/" + id }

// Files maps validated IDs to the files this node holds.
type Files interface {
	BlockStorageFile(group, namespace, id string) string
	ImageEntityFile(group, id string) string
}

// RouteSet is more routes for the node listener (the VM consoles).
type RouteSet interface{ Register(Registrar) }

// NodeListener is what an agent serves on its node listener: the files,
// and every route of more, each behind its row of the rule table (rules.go).
// secret (may be empty) is the deprecated shared downloadAPI secret.
func NodeListener(secret string, files Files, log *slog.Logger, more ...RouteSet) *Listener {
	l := NewListener(secret, log)
	AddFiles(l, files, log)
	for _, m := range more {
		m.Register(l)
	}
	return l
}

// Handler is NodeListener with the files only.
func Handler(secret string, files Files, log *slog.Logger) http.Handler {
	return NodeListener(secret, files, log)
}

// AddFiles registers the two file routes on r.
func AddFiles(r Registrar, files Files, log *slog.Logger) {
	if log == nil {
		log = slog.Default()
	}
	r.HandleFunc("GET "+blockStoragePattern, func(w http.ResponseWriter, r *http.Request) {
		g, ns, id := r.PathValue("group"), r.PathValue("namespace"), r.PathValue("id")
		if !api.IsID(g) || !api.IsID(ns) || !api.IsID(id) {
			http.Error(w, "bad id in path", http.StatusBadRequest)
			return
		}
		serveFile(w, r, files.BlockStorageFile(g, ns, id), log)
	})
	r.HandleFunc("GET "+imageEntityPattern, func(w http.ResponseWriter, r *http.Request) {
		g, id := r.PathValue("group"), r.PathValue("id")
		if !api.IsID(g) || !api.IsID(id) {
			http.Error(w, "bad id in path", http.StatusBadRequest)
			return
		}
		serveFile(w, r, files.ImageEntityFile(g, id), log)
	})
}

func serveFile(w http.ResponseWriter, r *http.Request, path string, log *slog.Logger) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		http.Error(w, "no such file on this node", http.StatusNotFound)
		return
	}
	if err != nil {
		log.Error("download API open failed", "path", path, "err", err)
		http.Error(w, "cannot open the file", http.StatusInternalServerError)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		http.Error(w, "not a regular file", http.StatusNotFound)
		return
	}
	log.Info("download API serving", "remote", r.RemoteAddr, "path", r.URL.Path, "bytes", st.Size())
	w.Header().Set("Content-Type", "application/octet-stream")
	http.ServeContent(w, r, "", st.ModTime(), f)
}

// Authorize sets the bearer token of a request to another node's download
// API.
func Authorize(req *http.Request, secret string) {
	req.Header.Set("Authorization", "Bearer "+secret)
}
