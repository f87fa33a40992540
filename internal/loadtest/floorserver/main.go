// Command floorserver is the load generator's reference server
// (server=floor of BenchmarkServerCost, docs/benchmarks.md): the least a
// Go server can do to answer the apiserver's requests over the same
// transport, so that the benchmark measures the floor of the server's CPU
// per request on the machine, in the same run as the apiserver.
//
// It serves HTTPS with net/http and crypto/tls configured as the
// apiserver's (TLS 1.2+, h2 and http/1.1 offered, the same timeouts and
// header limit) and a self-signed ECDSA P-256 certificate made at start,
// like the apiserver's cluster CA and serving certificate. It has no
// authentication, authorization, metrics, events or store: GET /healthz
// answers the apiserver's body; any other GET answers a fixed stored VM
// (vm.json, as the apiserver answers a VM of the benchmark's); POST and
// PUT read the request and answer 201 and 200 with the same VM.
//
// It takes the apiserver's flags the harness passes (--listen-address,
// --listen-port, --data-dir) and writes what the harness's client reads
// there: the certificate as <data-dir>/pki/ca.crt and a token it never
// checks as <data-dir>/admin.token. SIGTERM or SIGINT stop it gracefully
// (exit status 0).
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	_ "embed"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// vmBody is the apiserver's answer to GET of the benchmark's VM vm0 (its
// envelope, meta with the server's fields, spec), captured from a real
// server: the floor writes as many bytes per GET as the apiserver does.
//
//go:embed vm.json
var vmBody []byte

// healthzBody is the apiserver's answer to GET /healthz.
const healthzBody = `{"code":200,"error":null,"data":{"status":"ok"}}` + "\n"

// The apiserver's http.Server limits (internal/apiserver/server.go).
const (
	readHeaderTimeout = 10 * time.Second
	idleTimeout       = 2 * time.Minute
	maxHeaderBytes    = 128 << 10
	shutdownTimeout   = 5 * time.Second
)

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(log, os.Args[1:]); err != nil {
		log.Error("floorserver failed", "err", err)
		os.Exit(1)
	}
}

func run(log *slog.Logger, args []string) error {
	fs := flag.NewFlagSet("floorserver", flag.ContinueOnError)
	addr := fs.String("listen-address", "127.0.0.1", "address to listen on")
	port := fs.Int("listen-port", 8080, "port to listen on (HTTPS)")
	dataDir := fs.String("data-dir", "", "where to write pki/ca.crt and admin.token")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dataDir == "" {
		return errors.New("--data-dir is required")
	}
	cert, err := selfSigned(*addr, *dataDir)
	if err != nil {
		return err
	}
	if err := writeFile(filepath.Join(*dataDir, "admin.token"), []byte("floor-not-checked\n"), 0o600); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(*addr, strconv.Itoa(*port)))
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           handler(),
		TLSConfig:         &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}},
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return serve(log, srv, ln)
}

// serve runs srv on ln until SIGTERM or SIGINT, then shuts it down.
func serve(log *slog.Logger, srv *http.Server, ln net.Listener) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.ServeTLS(ln, "", "") }()
	log.Info("serving", "addr", ln.Addr().String())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("stopped")
	return nil
}

// handler answers as described in the package doc. GET / matches every
// GET (and HEAD) the more specific /healthz does not.
func handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		write(w, http.StatusOK, []byte(healthzBody))
	})
	mux.HandleFunc("GET /", func(w http.ResponseWriter, _ *http.Request) { write(w, http.StatusOK, vmBody) })
	mux.HandleFunc("POST /", writeVM(http.StatusCreated))
	mux.HandleFunc("PUT /", writeVM(http.StatusOK))
	return mux
}

// writeVM reads the request body, as a server that stores it must, and
// answers the VM with status.
func writeVM(status int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		write(w, status, vmBody)
	}
}

func write(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// selfSigned makes an ECDSA P-256 key and a self-signed certificate for
// addr, 127.0.0.1, ::1 and localhost, and writes the certificate as
// dataDir/pki/ca.crt, the CA the harness's client trusts.
func selfSigned(addr, dataDir string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "humstack floorserver"},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true, // the client trusts it as its own CA
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	if ip := net.ParseIP(addr); ip != nil && !ip.IsUnspecified() {
		tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := writeFile(filepath.Join(dataDir, "pki", "ca.crt"), certPEM, 0o644); err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// writeFile writes data to a temp file beside name and renames it into
// place, so that the harness, polling for name, never reads it half
// written.
func writeFile(name string, data []byte, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return err
	}
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, data, perm); err != nil {
		return err
	}
	return os.Rename(tmp, name)
}
