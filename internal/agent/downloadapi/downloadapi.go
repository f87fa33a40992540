// Package downloadapi is the node-to-node transfer endpoint of System
// agents (the seed's downloadAPI): another node fetches a disk or an image
// entity this node holds, to cache an image or move a disk.
//
// It is not an open file server. Every request must present a node or API
// server certificate of the cluster CA over mutual TLS (peer.go, on joined
// nodes) or carry the cluster's shared secret as a bearer token (compared
// in constant time; deprecated); only GET and
// HEAD of two path shapes are served, and a file path is built only from
// IDs that pass api.IsID, so no request can name a file outside the disk
// and image directories. Files are served with http.ServeContent, so a
// client may resume an interrupted transfer with a Range request.
package downloadapi

import (
	"crypto/subtle"
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

// Handler serves files to callers that present secret. An empty secret
// refuses every request: the API is never served without one. It is
// RequireSecret around Routes; an agent that serves more on the same
// listener (the VM consoles) builds that combination itself.
func Handler(secret string, files Files, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.Default()
	}
	return RequireSecret(secret, Routes(files, log), log)
}

// Routes serves the files without any authorization: wrap it in
// RequireSecret. The mux is returned so that other routes of the node
// listener can be added beside the file routes.
func Routes(files Files, log *slog.Logger) *http.ServeMux {
	if log == nil {
		log = slog.Default()
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+blockStoragePattern, func(w http.ResponseWriter, r *http.Request) {
		g, ns, id := r.PathValue("group"), r.PathValue("namespace"), r.PathValue("id")
		if !api.IsID(g) || !api.IsID(ns) || !api.IsID(id) {
			http.Error(w, "bad id in path", http.StatusBadRequest)
			return
		}
		serveFile(w, r, files.BlockStorageFile(g, ns, id), log)
	})
	mux.HandleFunc("GET "+imageEntityPattern, func(w http.ResponseWriter, r *http.Request) {
		g, id := r.PathValue("group"), r.PathValue("id")
		if !api.IsID(g) || !api.IsID(id) {
			http.Error(w, "bad id in path", http.StatusBadRequest)
			return
		}
		serveFile(w, r, files.ImageEntityFile(g, id), log)
	})
	return mux
}

// RequireSecret lets through only requests whose bearer token is secret
// (compared in constant time); an empty secret lets nothing through. It
// guards everything on the node listener: files and consoles alike. (The
// name Authorize is taken by the client side: it sets the token.)
func RequireSecret(secret string, next http.Handler, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.Default()
	}
	want := []byte("Bearer " + secret)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := []byte(r.Header.Get("Authorization"))
		if secret == "" || subtle.ConstantTimeCompare(got, want) != 1 {
			log.Warn("node API request refused", "remote", r.RemoteAddr, "path", r.URL.Path, "reason", "missing or wrong secret")
			w.Header().Set("WWW-Authenticate", `Bearer realm="humstack-download"`)
			http.Error(w, "a valid download API secret is required", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
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
