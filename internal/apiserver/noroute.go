package apiserver

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/ui"
)

// route serves a request through the mux, except that a path no route
// matches (404) or a method a path does not take (405) is answered with the
// JSON envelope every other answer has, not net/http's plain text, so
// clients that decode every answer get an error they can show.
func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	h, pattern := s.mux.Handler(r)
	if s.metrics != nil {
		s.routed(w, r, pattern)
	}
	if pattern != "" {
		s.mux.ServeHTTP(w, r)
		return
	}
	if r.Method == http.MethodGet && r.URL.Path == "/" {
		http.Redirect(w, r, ui.Prefix, http.StatusFound)
		return
	}
	// The mux's own answer says which of the two it is and, for 405,
	// which methods the path takes (its Allow header).
	probe := &headerRecorder{header: http.Header{}, status: http.StatusOK}
	h.ServeHTTP(probe, r)
	if probe.status == http.StatusMethodNotAllowed {
		allow := probe.header.Get("Allow")
		w.Header().Set("Allow", allow)
		b, _ := json.Marshal(errorBody{
			Code:   http.StatusMethodNotAllowed,
			Error:  fmt.Sprintf("%s is not allowed on %s; it takes %s", r.Method, r.URL.Path, allow),
			Reason: "MethodNotAllowed",
		})
		writeRaw(w, http.StatusMethodNotAllowed, append(b, '\n'))
		return
	}
	writeError(r.Context(), w, s.log, fmt.Errorf("no API path %s %s (see docs/api.md): %w", r.Method, r.URL.Path, api.ErrNotFound))
}

// headerRecorder keeps the status and headers a handler writes and drops
// its body.
type headerRecorder struct {
	header http.Header
	status int
}

func (h *headerRecorder) Header() http.Header         { return h.header }
func (h *headerRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (h *headerRecorder) WriteHeader(code int)        { h.status = code }
