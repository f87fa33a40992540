package apiserver

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// startPprof serves Go's profiles (net/http/pprof) on a listener of its own
// at addr (--pprof-address), for an operator or a benchmark looking at
// where the server spends its CPU and memory; an empty addr is off. It has
// no authentication and no TLS: profiles show code paths and the heap's
// call stacks, not stored objects, but a CPU profile or trace costs CPU
// while it runs, so the address belongs on loopback. The API listener
// never serves these routes: the handlers go on a mux of their own (the
// package's init also registers them on http.DefaultServeMux, which
// nothing here serves). The returned stop closes the listener.
func startPprof(addr string, log *slog.Logger) (stop func(), err error) {
	if addr == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--pprof-address: %w", err)
	}
	hs := &http.Server{Handler: pprofMux(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			log.Error("pprof listener failed", "err", err)
		}
	}()
	log.Warn("pprof listening: unauthenticated profiles, keep it on loopback", "address", ln.Addr().String())
	return func() { _ = hs.Close() }, nil
}

// pprofMux routes /debug/pprof/ as net/http/pprof documents it.
func pprofMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index) // and the named profiles: heap, goroutine, allocs, ...
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
