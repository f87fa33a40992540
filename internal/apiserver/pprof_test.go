package apiserver_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/humstack/humstack/internal/apiserver"
	"github.com/humstack/humstack/internal/testenv/apiservertest"
)

// TestPprofAddress: --pprof-address serves Go's profiles on a listener of
// its own, which the API's listener does not; without it there is none.
func TestPprofAddress(t *testing.T) {
	pp := net.JoinHostPort("127.0.0.1", strconv.Itoa(apiservertest.FreePort(t)))
	port := apiservertest.Run(t, apiserver.Config{PprofAddress: pp, TLS: apiserver.TLSConfig{InsecureHTTP: true},
		Authorization: apiserver.AuthorizationOff})
	api := "http://127.0.0.1:" + strconv.Itoa(port)
	pprofWaitOK(t, api+"/healthz")
	code, body := pprofGet(t, "http://"+pp+"/debug/pprof/cmdline")
	if code != http.StatusOK || !strings.Contains(body, "apiserver.test") {
		t.Errorf("pprof cmdline: %d %q", code, body)
	}
	if code, body := pprofGet(t, "http://"+pp+"/debug/pprof/heap?debug=1"); code != http.StatusOK || !strings.Contains(body, "heap profile") {
		t.Errorf("pprof heap: %d %.100q", code, body)
	}
	// Everyone may do everything on the API listener here, and still it
	// has no such route.
	if code, _ := pprofGet(t, api+"/debug/pprof/cmdline"); code != http.StatusNotFound {
		t.Errorf("the API listener answers /debug/pprof/cmdline with %d, want 404", code)
	}
}

// TestPprofAddressInUse: an address that cannot be listened on fails the
// start, naming the flag.
func TestPprofAddressInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = apiserver.Run(ctx, apiserver.Config{ListenAddress: "127.0.0.1", ListenPort: apiservertest.FreePort(t),
		DataDir: t.TempDir(), PprofAddress: ln.Addr().String(), TLS: apiserver.TLSConfig{InsecureHTTP: true},
		Log: slog.New(slog.DiscardHandler)})
	if err == nil || !strings.Contains(err.Error(), "--pprof-address") {
		t.Errorf("Run with a taken --pprof-address: %v", err)
	}
}

func pprofGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func pprofWaitOK(t *testing.T, url string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not ready (%v)", url, err)
		}
	}
}
