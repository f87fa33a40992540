package apiserver

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/auth"
	"github.com/humstack/humstack/internal/storage"
	"github.com/humstack/humstack/internal/storage/storemetrics"
)

// Metrics are the apiserver's Prometheus metrics (docs/metrics.md), in a
// registry of their own: never the global one, so two servers in one
// process (tests) do not share or collide. One Metrics serves one Server.
type Metrics struct {
	reg         *prometheus.Registry
	requests    *prometheus.CounterVec   // verb, kind, code
	duration    *prometheus.HistogramVec // verb, kind
	inflight    prometheus.Gauge
	watches     *prometheus.GaugeVec   // kind
	watchEvents *prometheus.CounterVec // kind
	store       *prometheus.HistogramVec
	objects     *objectCounter
}

// Label values of routes that serve no API kind, and of paths no route
// serves: the kind label never comes from the request, so a scanner trying
// random paths adds no series.
const (
	kindNone    = "none"    // /healthz, the node join
	kindUnknown = "unknown" // no route (404, 405)
)

// Seconds: from a cached read (sub-millisecond) to a slow store commit.
var (
	requestBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}
	storeBuckets   = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}
)

// NewMetrics makes the apiserver's metrics; pass them in Options.Metrics
// (Run does, unless --metrics=false).
func NewMetrics() *Metrics {
	const ns, sub = "humstack", "apiserver"
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "requests_total",
			Help: "API requests answered, by verb, kind and HTTP status code."}, []string{"verb", "kind", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "request_duration_seconds",
			Help:    "Time to answer an API request, by verb and kind (watches and consoles, which stream, are not observed).",
			Buckets: requestBuckets}, []string{"verb", "kind"}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "inflight_requests",
			Help: "API requests being answered now, watches and consoles (streams) excluded."}),
		watches: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "watches",
			Help: "Open watch streams, by kind."}, []string{"kind"}),
		watchEvents: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "watch_events_total",
			Help: "Events sent on watch streams, by kind."}, []string{"kind"}),
		store: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "store_request_duration_seconds",
			Help:    "Time of the store's operations (get, list, create, update, delete, watch start, revision, compact).",
			Buckets: storeBuckets}, []string{"operation"}),
	}
	m.objects = newObjectCounter(prometheus.NewDesc(prometheus.BuildFQName(ns, sub, "objects"),
		"Objects in the store, by kind (counted at start, then kept by a watch of the store).", []string{"kind"}, nil))
	m.reg.MustRegister(m.requests, m.duration, m.inflight, m.watches, m.watchEvents, m.store, m.objects,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry is where the metrics are registered, for tests and for more
// collectors of the same process.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Store returns s with its operations timed into the store histogram. Run
// wraps the store before anything uses it (the token authenticator too);
// New wraps it when that has not been done.
func (m *Metrics) Store(s storage.Store) storage.Store {
	if _, done := storemetrics.Unwrap(s); done {
		return s
	}
	return storemetrics.Wrap(s, m.store)
}

func (m *Metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// metricsRoute serves GET /metrics when metrics are on; with
// --metrics=false the route does not exist (404).
func (s *Server) metricsRoute() {
	if s.metrics != nil {
		s.handle(nil, "GET /metrics", s.metrics.handler().ServeHTTP)
	}
}

// routeLabels are a route's label values, fixed when the server is built.
type routeLabels struct {
	verb, kind string
	stream     bool // a watch or console: not in flight, not timed
	obs        atomic.Pointer[prometheus.Observer]
	// byCode caches the counter of each code the route answered with:
	// a lookup here is cheaper than the labels' hashing and checks.
	byCode sync.Map // int -> prometheus.Counter
}

// counter is the request counter of the route's answers with code.
func (l *routeLabels) counter(m *Metrics, code int) prometheus.Counter {
	if c, ok := l.byCode.Load(code); ok {
		return c.(prometheus.Counter)
	}
	c := m.requests.WithLabelValues(l.verb, l.kind, strconv.Itoa(code))
	l.byCode.Store(code, c)
	return c
}

// routeMetrics are a route's labels, and those of its watches (lists).
type routeMetrics struct{ plain, watch *routeLabels }

// indexRoutes gives every registered route (by mux pattern) its labels,
// and requests no route serves theirs. The labels cache their series, so
// each server has its own.
func (m *Metrics) indexRoutes(table []Route) map[string]routeMetrics {
	out := make(map[string]routeMetrics, len(table))
	for _, rt := range table {
		method, _, _ := strings.Cut(rt.Template, " ")
		rule := ruleTable[rt.Template]
		l := &routeLabels{verb: rule.verb, kind: rule.kind}
		if l.verb == "" {
			l.verb = methodVerb(method)
		}
		switch {
		case rt.Kind != nil:
			l.kind = rt.Kind.Name
		case l.kind == "":
			l.kind = kindNone
		}
		sub := subresource(rt.Template)
		l.stream = l.verb == auth.VerbConsole && sub != "serial/log"
		rm := routeMetrics{plain: l}
		if l.verb == auth.VerbList {
			rm.watch = &routeLabels{verb: auth.VerbWatch, kind: l.kind, stream: true}
		}
		out[rt.Pattern] = rm
	}
	// Requests no route serves, by method, under the pattern "" (the
	// mux's answer for them), prefixed so no real pattern can collide.
	for _, method := range unknownMethods {
		out[unknownKey+method] = routeMetrics{plain: &routeLabels{verb: methodVerb(method), kind: kindUnknown}}
	}
	return out
}

// unknownKey prefixes the methods in the index of the routes' labels.
const unknownKey = "\x00unknown "

// methodVerb is the verb label of a route the rule table gives none
// (public routes, no route): the method, from a fixed set.
func methodVerb(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return strings.ToLower(method)
	}
	return "other"
}

// unknownMethods are the methods whose requests to no route have labels of
// their own; any other method is "other".
var unknownMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
	http.MethodPatch, http.MethodDelete, http.MethodOptions, "other"}

// beginMetrics counts a request in flight. Its route is learnt when the
// mux has matched it (routed), so the path is matched once.
func (s *Server) beginMetrics(rec *statusRecorder) {
	s.metrics.inflight.Inc()
	rec.metered = true
}

// routed gives a request the labels of the route pattern the mux matched
// ("": none); a stream (watch, console) leaves the in-flight count at once.
func (s *Server) routed(w http.ResponseWriter, r *http.Request, pattern string) {
	rec, ok := w.(*statusRecorder)
	if !ok || !rec.metered {
		return
	}
	rec.route = s.labelsOf(r, pattern)
	if rec.route.stream {
		s.metrics.inflight.Dec()
		rec.metered = false
	}
}

// labelsOf are the labels of pattern, or of no route.
func (s *Server) labelsOf(r *http.Request, pattern string) *routeLabels {
	rm, ok := s.routeLabels[pattern]
	switch {
	case !ok:
		if rm, ok = s.routeLabels[unknownKey+r.Method]; !ok {
			rm = s.routeLabels[unknownKey+"other"]
		}
	case rm.watch != nil && isWatch(r):
		return rm.watch
	}
	return rm.plain
}

// endMetrics counts a request answered, started at start. A request
// refused before routing (401) is matched here.
func (s *Server) endMetrics(rec *statusRecorder, r *http.Request, start time.Time) {
	m := s.metrics
	l := rec.route
	if l == nil {
		_, pattern := s.mux.Handler(r)
		l = s.labelsOf(r, pattern)
	}
	l.counter(m, rec.status).Inc()
	if rec.metered {
		m.inflight.Dec()
	}
	if l.stream {
		return
	}
	o := l.obs.Load()
	if o == nil {
		// Made on first use, so routes never called add no series.
		obs := m.duration.WithLabelValues(l.verb, l.kind)
		o = &obs
		l.obs.Store(o)
	}
	(*o).Observe(time.Since(start).Seconds())
}

// watchOpened counts an open watch of kind; the caller calls done when it
// ends, and sent.Inc() for each event it sends.
func (m *Metrics) watchOpened(k *api.Kind) (sent prometheus.Counter, done func()) {
	if m == nil {
		return discardCounter, func() {}
	}
	g := m.watches.WithLabelValues(k.Name)
	g.Inc()
	return m.watchEvents.WithLabelValues(k.Name), g.Dec
}

// discardCounter takes the events of watches when metrics are off.
var discardCounter = prometheus.NewCounter(prometheus.CounterOpts{Name: "discarded", Help: "unregistered"})

// metricsClock and metricsSpent time the request metrics' own work for
// benchmarks (SetMetricsTimer); outside tests they cost a nil check.
func (s *Server) metricsClock() time.Duration {
	if s.metricsTimer == nil {
		return 0
	}
	return s.metricsTimer.now()
}

func (s *Server) metricsSpent(start time.Duration) {
	if s.metricsTimer != nil {
		s.metricsTimer.spent(s.metricsTimer.now() - start)
	}
}
