package apiserver

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/humstack/humstack/internal/pki"
	"github.com/humstack/humstack/internal/storage"
)

// TLSConfig is how the apiserver serves: HTTPS with the cluster CA (Mode
// "auto", the default) or plain HTTP ("off", or InsecureHTTP).
type TLSConfig struct {
	// Mode is "auto" or "off"; empty is auto, or off with InsecureHTTP.
	// auto creates the cluster CA (in the data dir with bolt, in the store
	// with etcd) and a serving certificate.
	Mode string
	// CertFile and KeyFile replace the generated serving certificate.
	CertFile, KeyFile string
	// ClientCAFile adds CAs that client certificates may chain to, besides
	// the cluster CA.
	ClientCAFile string
	// SANs are names and addresses the serving certificate names beyond the
	// listen address, the host name, localhost and 127.0.0.1.
	SANs []string
	// InsecureHTTP asks for plain HTTP explicitly: it is logged as a
	// warning, and contradicts Mode "auto".
	InsecureHTTP bool
}

// TLS modes.
const (
	TLSOff  = "off"
	TLSAuto = "auto"
)

// renewCheck is how often the serving certificate's expiry is checked.
const renewCheck = time.Hour

// setupTLS returns the listener's TLS configuration and the server's TLS
// options, or nil and nil for plain HTTP.
func setupTLS(ctx context.Context, cfg Config, st storage.Store) (*tls.Config, *TLSOptions, error) {
	t := cfg.TLS
	if err := checkTLSFlags(t); err != nil {
		return nil, nil, err
	}
	if t.Mode == TLSOff {
		cfg.Log.Warn("INSECURE: serving plain HTTP (--insecure-http or --tls off): anyone on the network can read the API's traffic, tokens included")
		return nil, nil, nil
	}
	ca, err := clusterCA(ctx, cfg, st)
	if err != nil {
		return nil, nil, err
	}
	pool := ca.Pool()
	if t.ClientCAFile != "" {
		b, err := os.ReadFile(t.ClientCAFile)
		if err != nil {
			return nil, nil, fmt.Errorf("--client-ca-file: %w", err)
		}
		if !pool.AppendCertsFromPEM(b) {
			return nil, nil, fmt.Errorf("--client-ca-file %s: no PEM certificate in it", t.ClientCAFile)
		}
	}
	tc := &tls.Config{
		MinVersion: tls.VersionTLS12,
		ClientAuth: tls.VerifyClientCertIfGiven,
		ClientCAs:  pool,
		// HTTP/2 first: a browser opens at most six HTTP/1.1 connections
		// to a server, and every open watch stream holds one, so the web
		// console's live pages need HTTP/2's multiplexing. Websockets stay
		// on HTTP/1.1: Go's HTTP/2 server does not offer extended CONNECT
		// (RFC 8441) unless GODEBUG=http2xconnect=1, so browsers open the
		// console websockets on a connection of their own.
		NextProtos: []string{"h2", "http/1.1"},
	}
	if t.CertFile != "" {
		kp, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, nil, fmt.Errorf("--tls-cert-file/--tls-key-file: %w", err)
		}
		tc.Certificates = []tls.Certificate{kp}
	} else {
		hosts := pki.ServingHosts(cfg.ListenAddress, t.SANs)
		sv, err := pki.NewServing(ca, pkiDir(cfg), hosts, time.Now(), cfg.Log)
		if err != nil {
			return nil, nil, err
		}
		tc.GetCertificate = sv.GetCertificate
		go sv.Run(ctx, renewCheck)
	}
	host, _ := os.Hostname()
	client, err := ca.IssueAPIServerClient(host, time.Now(), pki.ServingValidity)
	if err != nil {
		return nil, nil, err
	}
	return tc, &TLSOptions{CA: ca, NodeClient: client}, nil
}

func checkTLSFlags(t TLSConfig) error {
	switch {
	case t.Mode != "" && t.Mode != TLSOff && t.Mode != TLSAuto:
		return fmt.Errorf("--tls %q: want auto or off", t.Mode)
	case t.InsecureHTTP && t.Mode == TLSAuto:
		return fmt.Errorf("--insecure-http and --tls auto contradict each other")
	case (t.CertFile == "") != (t.KeyFile == ""):
		return fmt.Errorf("--tls-cert-file and --tls-key-file go together")
	case t.Mode != TLSAuto && (t.CertFile != "" || t.ClientCAFile != "" || len(t.SANs) > 0):
		return fmt.Errorf("--tls-cert-file, --tls-key-file, --client-ca-file and --tls-san need --tls auto")
	}
	return nil
}

// pkiDir holds the CA files (bolt) and the serving certificate.
func pkiDir(cfg Config) string { return filepath.Join(cfg.DataDir, "pki") }

// clusterCA loads or creates the cluster CA where the backend keeps it,
// and prints and logs its fingerprint.
func clusterCA(ctx context.Context, cfg Config, st storage.Store) (*pki.CA, error) {
	var ca *pki.CA
	var created bool
	var err error
	where := pkiDir(cfg)
	if cfg.Store == "etcd" {
		where = "store " + pki.StoreCAKey
		ca, created, err = pki.LoadOrCreateStoreCA(ctx, st, time.Now())
	} else {
		ca, created, err = pki.LoadOrCreateFileCA(where, time.Now())
	}
	if err != nil {
		return nil, fmt.Errorf("cluster CA: %w", err)
	}
	out := cfg.Out
	if out == nil {
		out = io.Discard
	}
	fmt.Fprintf(out, "cluster CA fingerprint: %s\n", ca.Fingerprint())
	cfg.Log.Info("cluster CA", "fingerprint", ca.Fingerprint(), "created", created, "where", where)
	return ca, nil
}
