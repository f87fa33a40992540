package apiserver

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/humstack/humstack/internal/audit"
	"github.com/humstack/humstack/internal/auth"
	"github.com/humstack/humstack/internal/placement"
	"github.com/humstack/humstack/internal/storage"
)

// Config is the apiserver's command-line configuration.
type Config struct {
	ListenAddress string
	ListenPort    int
	// Store selects the backend: "bolt" (embedded, the default) or
	// "etcd" (an etcd cluster that several apiservers may share).
	Store   string
	DataDir string
	Etcd    EtcdConfig
	// NodeSecretFile names a file holding the cluster's shared secret, the
	// agents' downloadAPI secret: the console proxy presents it to the
	// agents. Empty leaves the consoles off.
	NodeSecretFile string
	// Authorization is "rbac" (the default when empty) or "off" (everyone
	// may do everything: a trusted lab, or the original humstack's clients).
	Authorization string
	// Audit says where the audit log goes; an empty Path turns it off.
	Audit audit.SinkConfig
	// TrustedProxies (--trusted-proxy) lists the reverse proxies whose
	// X-Forwarded-For gives the audit log's source address.
	TrustedProxies string
	// TLS selects plain HTTP or HTTPS (tls.go).
	TLS TLSConfig
	// OIDC admits the ID tokens of an OpenID Connect issuer (oidc.go).
	OIDC OIDCConfig
	// DisableMetrics turns off GET /metrics and the request and store
	// metrics (--metrics=false); the zero value serves them.
	DisableMetrics bool
	// EventTTL and MaxEvents bound the events kept (--event-ttl,
	// --max-events; zero: DefaultEventTTL, DefaultMaxEvents).
	EventTTL  time.Duration
	MaxEvents int
	// Ratios are the overcommit ratios of node capacity
	// (--cpu-overcommit-ratio, --memory-overcommit-ratio,
	// --storage-overcommit-ratio; zero: placement.DefaultRatios').
	Ratios placement.Ratios
	// ResetInterval (--reset-interval) is the least time between two
	// resets of one environment copy asked for by its team; zero:
	// DefaultResetInterval, negative: no interval.
	ResetInterval time.Duration
	// PprofAddress (--pprof-address), when set, serves Go's profiles
	// (net/http/pprof) on a separate, unauthenticated listener at this
	// host:port: an operator's debugging tool, off by default (pprof.go).
	PprofAddress string
	// Out receives what is printed for the operator (the CA fingerprint);
	// nil prints nothing.
	Out io.Writer
	Log *slog.Logger
}

// withDefaults fills what an empty Config leaves open the secure way:
// HTTPS with the cluster CA and RBAC, unless plain HTTP or authorization
// off is asked for by name.
func (cfg Config) withDefaults() Config {
	if cfg.Authorization == "" {
		cfg.Authorization = AuthorizationRBAC
	}
	if cfg.TLS.Mode == "" {
		cfg.TLS.Mode = TLSAuto
		if cfg.TLS.InsecureHTTP {
			cfg.TLS.Mode = TLSOff
		}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return cfg
}

// Run opens the store, serves the API until ctx ends, and closes the store.
func Run(ctx context.Context, cfg Config) error {
	cfg = cfg.withDefaults()
	if cfg.ListenPort < 0 || cfg.ListenPort > 65535 {
		return fmt.Errorf("--listen-port %d: want 0-65535", cfg.ListenPort)
	}
	if err := checkOIDCFlags(cfg.OIDC, cfg.Authorization); err != nil {
		return err
	}
	if cfg.EventTTL < 0 || cfg.MaxEvents < 0 {
		return fmt.Errorf("--event-ttl %s, --max-events %d: want positive values (0: the default)", cfg.EventTTL, cfg.MaxEvents)
	}
	if err := checkRatios(cfg.Ratios); err != nil {
		return err
	}
	secret, err := readNodeSecret(cfg.NodeSecretFile)
	if err != nil {
		return err
	}
	if secret == "" && cfg.TLS.Mode != TLSAuto {
		cfg.Log.Warn("consoles off: no --node-secret-file and no --tls auto, so the apiserver cannot reach the agents' consoles")
	}
	al, err := openAudit(cfg)
	if err != nil {
		return err
	}
	defer al.Close()
	store, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	opts := Options{Log: cfg.Log, NodeSecret: secret, Audit: al,
		Events: EventRetention{TTL: cfg.EventTTL, Max: cfg.MaxEvents}, Ratios: cfg.Ratios,
		ResetInterval: cfg.ResetInterval}
	if !cfg.DisableMetrics {
		// Wrapped before anything uses the store, so the token
		// authenticator's reads are timed too.
		opts.Metrics = NewMetrics()
		store = opts.Metrics.Store(store)
	}
	var oa *auth.OIDCAuthenticator
	if opts.Authorization, opts.Authenticator, oa, err = authOptions(ctx, cfg, store); err != nil {
		return err
	}
	if opts.OIDCLogin, err = oidcLogin(cfg.OIDC, oa); err != nil {
		return err
	}
	tc, topts, err := setupTLS(ctx, cfg, store)
	if err != nil {
		return err
	}
	stopPprof, err := startPprof(cfg.PprofAddress, cfg.Log)
	if err != nil {
		return err
	}
	defer stopPprof()
	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.ListenAddress, strconv.Itoa(cfg.ListenPort)))
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	if tc != nil {
		ln = tls.NewListener(ln, tc)
	}
	opts.TLS = topts
	return New(store, opts).Serve(ctx, ln)
}

// checkRatios refuses a negative or non-finite overcommit ratio (0 is the
// default).
func checkRatios(r placement.Ratios) error {
	for _, f := range []struct {
		flag string
		v    float64
	}{{"--cpu-overcommit-ratio", r.CPU}, {"--memory-overcommit-ratio", r.Memory}, {"--storage-overcommit-ratio", r.Storage}} {
		if !(f.v >= 0) || math.IsInf(f.v, 0) {
			return fmt.Errorf("%s %v: want a ratio greater than 0", f.flag, f.v)
		}
	}
	return nil
}

// openAudit starts the audit log, or returns nil (off) without --audit-log.
func openAudit(cfg Config) (*audit.Logger, error) {
	trusted, err := audit.ParseTrustedProxies(cfg.TrustedProxies)
	if err != nil {
		return nil, err
	}
	sink, err := audit.OpenSink(cfg.Audit)
	if err != nil || sink == nil {
		return nil, err
	}
	cfg.Log.Info("audit log on", "path", cfg.Audit.Path, "max_size_mb", cfg.Audit.MaxSizeMB, "max_backups", cfg.Audit.MaxBackups)
	return audit.New(sink, audit.Options{Log: cfg.Log, TrustedProxies: trusted}), nil
}

// authOptions checks --authorization and, with rbac, bootstraps the admin
// token and builds the authenticator chain; it returns the OIDC
// authenticator too (nil without --oidc-issuer-url), for the web
// console's sign-in.
func authOptions(ctx context.Context, cfg Config, store storage.Store) (string, auth.Authenticator, *auth.OIDCAuthenticator, error) {
	switch cfg.Authorization {
	case AuthorizationOff:
		cfg.Log.Warn("INSECURE: --authorization off: every caller may read and change everything")
		return AuthorizationOff, nil, nil, nil
	case AuthorizationRBAC:
	default:
		return "", nil, nil, fmt.Errorf("--authorization %q: want %s or %s", cfg.Authorization, AuthorizationOff, AuthorizationRBAC)
	}
	oa, err := newOIDCAuthenticator(cfg)
	if err != nil {
		return "", nil, nil, err
	}
	if err := bootstrapAdmin(ctx, store, cfg.DataDir, cfg.Log); err != nil {
		return "", nil, nil, err
	}
	// humstack tokens (hst_...) and ID tokens (JWTs) never look alike, so
	// each bearer value is checked by one of the two.
	chain := auth.Chain{&auth.TokenAuthenticator{Lookup: CachedTokenLookup(ctx, store)}}
	if oa != nil {
		chain = append(chain, oa)
	}
	return AuthorizationRBAC, chain, oa, nil
}

// readNodeSecret reads the secret file, if any: its content without
// surrounding white space, which must not be empty.
func readNodeSecret(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("--node-secret-file: %w", err)
	}
	secret := strings.TrimSpace(string(b))
	if secret == "" {
		return "", fmt.Errorf("--node-secret-file %s: the file is empty", path)
	}
	return secret, nil
}
