package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/humstack/humstack/internal/lab/guest/debian"
	"github.com/humstack/humstack/internal/lab/guest/guestcache"
	"github.com/humstack/humstack/internal/lab/guest/tiny"
)

// image builds (or finds in the cache) a test guest image and prints its
// path; with serve set it serves the image over HTTP at /<kind>.qcow2
// until ctx ends, as a user's image server would.
func image(ctx context.Context, kind, serve string) error {
	path, err := buildImage(ctx, kind)
	if err != nil {
		return err
	}
	if serve == "" {
		fmt.Println(path)
		return nil
	}
	ln, err := net.Listen("tcp", serve)
	if err != nil {
		return err
	}
	url := fmt.Sprintf("http://%s/%s.qcow2", ln.Addr(), kind)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /"+kind+".qcow2", func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, path) })
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(os.Stderr, "humlab: serving %s as %s\n", path, url)
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func buildImage(ctx context.Context, kind string) (string, error) {
	cache, err := guestcache.TestDir()
	if err != nil {
		return "", err
	}
	switch kind {
	case "tiny":
		img, err := tiny.Build(ctx, cache)
		return img.Disk, err
	case "debian":
		img, err := debian.Build(ctx, cache)
		return filepath.Clean(img.Path), err
	}
	return "", fmt.Errorf("unknown image %q: want tiny or debian", kind)
}
