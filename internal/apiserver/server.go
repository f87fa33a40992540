package apiserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/audit"
	"github.com/humstack/humstack/internal/auth"
	"github.com/humstack/humstack/internal/placement"
	"github.com/humstack/humstack/internal/registry"
	"github.com/humstack/humstack/internal/storage"
)

// Options configure a Server. Zero values are sensible.
type Options struct {
	Log *slog.Logger
	// Authenticator turns a request into an identity (auth.Chain of the
	// bearer token authenticator); nil: every request without a console
	// link is anonymous. Console links are always recognized, whatever the
	// authorization mode: the server puts their authenticator first.
	Authenticator auth.Authenticator
	// Authorization is AuthorizationOff (default: everyone may do
	// everything) or AuthorizationRBAC (roles and bindings; anonymous 401).
	Authorization string
	// Heartbeat is the interval of keep-alive comments on watch streams.
	Heartbeat time.Duration
	// NodeSecret is the cluster's shared secret of the agents' node
	// listeners (downloadAPI.secret); the console proxy presents it.
	// Empty turns the consoles off (503).
	NodeSecret string
	// TLS, when set (HTTPS), enables node join and the x509 node
	// authenticator.
	TLS *TLSOptions
	// Audit receives the audit log's lines; nil: no audit log.
	Audit *audit.Logger
	// Now is the clock console links expire by; nil: time.Now.
	Now func() time.Time
	// Metrics, when set, are served on GET /metrics and the store is
	// timed through them; nil: no metrics (--metrics=false).
	Metrics *Metrics
	// ConsoleLinkRecheck is how often a console session opened with a
	// console link checks that the link still holds; 0: 10 s.
	ConsoleLinkRecheck time.Duration
	// Events bounds the events the store holds (retention.go).
	Events EventRetention
	// Ratios are the overcommit ratios of the node ledger (ledger.go); a
	// zero ratio takes placement.DefaultRatios' value.
	Ratios placement.Ratios
	// RepairInterval spaces the ledger repair's passes over every node,
	// and RepairGrace is the age under which it leaves an entry alone
	// (repair.go); 0: the defaults.
	RepairInterval, RepairGrace time.Duration
	// ResetInterval is the least time between two resets of one
	// environment copy asked for by its team (admit_reset.go); 0:
	// DefaultResetInterval, negative: none (one unfinished reset at a
	// time still holds the next).
	ResetInterval time.Duration
	// OIDCLogin turns on the web console's OIDC sign-in (uilogin.go); nil:
	// off (/ui/config.json says so).
	OIDCLogin *OIDCLogin
}

// Server is the humstack API server over one store.
type Server struct {
	store     storage.Store
	log       *slog.Logger
	authn     auth.Authenticator
	policy    *policyCache // nil: authorization off
	table     []Route
	heartbeat time.Duration
	// stopping ends watch streams on shutdown: http.Server.Shutdown waits
	// for idle connections, and a stream is never idle.
	stopping context.Context
	stop     context.CancelFunc
	mux      *http.ServeMux
	consoles consoleProxy
	tls      *TLSOptions
	audit    *audit.Logger
	links    *auth.ConsoleLinkAuthenticator
	// linkRecheck spaces the checks of a console link during a session.
	linkRecheck time.Duration
	// misses bounds the unknown join token ids one address may ask the
	// cluster info of (clusterinfo.go).
	misses missLimiter
	// events sweeps expired and excess events.
	events *retention
	// authTimer, set by benchmarks only, learns the time each request
	// spends in authentication and authorization (authtime.go).
	authTimer *authTimer
	// metrics is nil when metrics are off; routeLabels are the label
	// values of each route pattern (metrics.go).
	metrics     *Metrics
	routeLabels map[string]routeMetrics
	// metricsTimer, set by benchmarks only, times the request metrics'
	// own work (BenchmarkCreateMetricsCost).
	metricsTimer *authTimer
	// admitters keep the ledgers writes draw on (admission.go).
	admitters []admitter
	// ledger is the node capacity admitter, repair its repair loop.
	ledger *nodeLedger
	repair *repairer
	// ipam keeps the networks' address pools (ipam.go).
	ipam *ipam
	// login is the web console's OIDC sign-in; nil: off.
	login *uiLogin
}

// New builds a server; call Handler or Serve.
func New(store storage.Store, opts Options) *Server {
	s := &Server{store: store, log: opts.Log, heartbeat: opts.Heartbeat, audit: opts.Audit, tls: opts.TLS, metrics: opts.Metrics}
	if s.metrics != nil {
		s.store = s.metrics.Store(store)
	}
	keys := &linkKeys{s: s}
	s.links = &auth.ConsoleLinkAuthenticator{Source: keys, Now: opts.Now}
	// The sign-in's cookie key derives from the same cluster secret.
	s.login = newUILogin(opts.OIDCLogin, keys.ConsoleLinkKey)
	s.authn = authChain(s.links, opts.Authenticator)
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.linkRecheck = opts.ConsoleLinkRecheck; s.linkRecheck <= 0 {
		s.linkRecheck = 10 * time.Second
	}
	if opts.TLS != nil {
		// A verified node certificate is the first credential asked for.
		s.authn = auth.Chain{auth.X509{}, s.authn}
	}
	if s.heartbeat <= 0 {
		s.heartbeat = 10 * time.Second
	}
	s.stopping, s.stop = context.WithCancel(context.Background())
	switch opts.Authorization {
	case "", AuthorizationOff:
	case AuthorizationRBAC:
		s.policy = newPolicyCache(s.stopping, s.store)
	default:
		// Run checks the flag; anything else is a programming error, and
		// serving unchecked is not an option.
		panic(fmt.Sprintf("apiserver: unknown authorization mode %q", opts.Authorization))
	}
	// A restore names a snapshot its writer may read (checked first: a
	// refusal takes nothing from the ledgers below).
	s.admitters = append(s.admitters, restoreAdmitter{s})
	quotas := newQuotaAdmitter(s.store, s.log)
	s.admitters = append(s.admitters, quotas)
	go quotas.runRepair(s.stopping)
	s.events = &retention{store: s.store, cfg: opts.Events.withDefaults(), now: opts.Now, log: s.log}
	if s.events.now == nil {
		s.events.now = time.Now
	}
	// Unknown until the first sweep: an event create before it sweeps.
	s.events.count.Store(int64(s.events.cfg.Max))
	go s.events.run(s.stopping)
	s.ledger = &nodeLedger{store: s.store, ratios: withDefaultRatios(opts.Ratios), now: s.events.now, log: s.log}
	s.admitters = append(s.admitters, s.ledger)
	s.repair = newRepairer(s.ledger, opts.RepairInterval, opts.RepairGrace)
	go s.repair.run(s.stopping)
	s.consoles = newConsoleProxy(opts.NodeSecret)
	s.consoles.peer = newConsolePeer(opts.TLS)
	// A VM or disk moves between nodes only with a migration.
	s.admitters = append(s.admitters, migrationGuard{s})
	// A team resets its environment copy, within limits.
	s.admitters = append(s.admitters, newResetAdmitter(s, opts.ResetInterval, opts.Now))
	// Networks' address pools (ipam.go), last: it writes the most.
	s.ipam = &ipam{store: s.store, now: s.events.now, grace: ipamGrace, log: s.log, backfilled: make(chan struct{})}
	s.admitters = append(s.admitters, s.ipam)
	go s.ipam.runBackfill(s.stopping)
	s.mux = http.NewServeMux()
	s.routes()
	if s.metrics != nil {
		s.routeLabels = s.metrics.indexRoutes(s.table)
		go s.metrics.objects.run(s.stopping, s.store, s.log)
	}
	return s
}

// Close stops the server's background work (the policy cache's watches)
// when it was used through Handler rather than Serve.
func (s *Server) Close() { s.stop() }

// authChain is the one authenticator chain: a console link, then the
// configured authenticators (bearer tokens), then Anonymous. Node client
// certificates (x509) will go first, before console links.
func authChain(links auth.Authenticator, configured auth.Authenticator) auth.Chain {
	chain := auth.Chain{links}
	if configured != nil {
		chain = append(chain, configured)
	}
	return chain
}

// Handler returns the HTTP handler serving the whole API.
func (s *Server) Handler() http.Handler { return s.middleware(http.HandlerFunc(s.route)) }

// Serve answers on ln until ctx ends, then shuts down gracefully: watch
// streams are closed, in-flight requests get up to 10 s to finish.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := s.httpServer()
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	s.log.Info("apiserver listening", "address", ln.Addr().String(), "https", s.tls != nil)
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	s.log.Info("apiserver shutting down")
	s.stop()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// HTTP limits. Headers: a bearer token (an ID token: a few KiB) and a
// few cookies; Go's default allows 1 MiB. Streams: over HTTP/2 a
// connection carries many requests at once, and each open watch is one
// stream; a web console holds a handful, so 100 (RFC 9113's recommended
// minimum; Go's default is 250) leaves room and bounds what one
// connection can hold open. A client wanting more opens another
// connection, as it would over HTTP/1.1.
const (
	maxHeaderBytes       = 128 << 10
	maxConcurrentStreams = 100
)

// httpServer is the http.Server of Serve. HTTP/2 is on over TLS
// (tls.go's NextProtos); Go's server never sends
// SETTINGS_ENABLE_CONNECT_PROTOCOL (without GODEBUG=http2xconnect=1), so
// browsers open websockets on an HTTP/1.1 connection of their own.
func (s *Server) httpServer() *http.Server {
	return &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    maxHeaderBytes,
		HTTP2:             &http.HTTP2Config{MaxConcurrentStreams: maxConcurrentStreams},
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
}

// routes registers every kind's endpoints from the api registry.
func (s *Server) routes() {
	s.handle(nil, "GET /healthz", s.healthz)
	for _, k := range api.Kinds() {
		h := &resource{s: s, kind: k}
		base := "/api/v0"
		switch k.Scope {
		case api.ScopeGroup:
			base += "/groups/{group}"
		case api.ScopeNamespace:
			base += "/groups/{group}/namespaces/{namespace}"
			// Wider lists and watches: one group's namespaces, then everything.
			s.handle(k, "GET /api/v0/groups/{group}/{kind}", h.list)
		}
		if k.Scope != api.ScopeCluster {
			s.handle(k, "GET /api/v0/{kind}", h.list)
		}
		coll := base + "/{kind}"
		s.handle(k, "GET "+coll, h.list)
		s.handle(k, "POST "+coll, h.create)
		s.handle(k, "GET "+coll+"/{id}", h.get)
		s.handle(k, "PUT "+coll+"/{id}", h.update)
		s.handle(k, "DELETE "+coll+"/{id}", h.delete)
		_, redacted := registry.For(k).(registry.OutputRedactor)
		_, byServer := registry.For(k).(registry.ServerStatus)
		if !redacted && !byServer {
			// Clients never see what a redacted status holds, so they
			// cannot write it back: that status is the server's alone,
			// as is a ledger the server keeps (a quota's).
			s.handle(k, "PUT "+coll+"/{id}/status", h.updateStatus)
		}
	}
	s.byIDRoutes()
	s.consoleRoutes()
	s.powerRoute()
	s.entityUsersRoute()
	s.joinRoutes()
	s.metricsRoute()
	s.nodeMetricsRoutes()
	s.uiRoutes()
	s.uiLoginRoutes()
	s.introspectionRoutes()
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if _, err := s.store.Revision(ctx); err != nil {
		writeError(r.Context(), w, s.log, fmt.Errorf("store: %v: %w", err, api.ErrUnavailable))
		return
	}
	writeRaw(w, http.StatusOK, []byte(`{"code":200,"error":null,"data":{"status":"ok"}}`+"\n"))
}

// withDefaultRatios fills the ratios r leaves at 0 with the defaults.
func withDefaultRatios(r placement.Ratios) placement.Ratios {
	d := placement.DefaultRatios
	for _, f := range []struct{ v, def *float64 }{{&r.CPU, &d.CPU}, {&r.Memory, &d.Memory}, {&r.Storage, &d.Storage}} {
		if *f.v == 0 {
			*f.v = *f.def
		}
	}
	return r
}
