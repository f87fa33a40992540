// Package metrics is the agent's Prometheus metrics (docs/metrics.md):
// reconciles and queues of its controllers (it is their
// controller.Metrics), the node's capacity and allocation, the image
// cache and disks, and per VM the state, CPU, memory, disk and NIC
// counters of its QEMU. Everything lives in a private registry and every
// series carries the node's name; the node listener serves it at
// /metrics, for the API server's certificate only (the apiserver relays
// it to Prometheus at /api/v0/nodes/{id}/metrics).
//
// Per-VM values are read when Prometheus scrapes (collectors, not a
// polling loop), each VM under a short timeout, so a hung QMP socket costs
// that VM's disk counters and never the scrape.
package metrics

import (
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/humstack/humstack/internal/agent/downloadapi"
	"github.com/humstack/humstack/internal/controller"
)

// Path is where the node listener serves the metrics.
const Path = "/metrics"

// durationBuckets span a cache-only reconcile (a millisecond) to a slow
// host operation (a disk copy, an ACPI shutdown).
var durationBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

// Agent is one agent's metrics. It implements controller.OutcomeMetrics
// and controller.QueueMetrics; set it as the manager's Metrics.
type Agent struct {
	reg        *prometheus.Registry
	wrapped    prometheus.Registerer // adds the node label
	log        *slog.Logger
	reconciles *prometheus.CounterVec
	errors     *prometheus.CounterVec
	durations  *prometheus.HistogramVec
	queues     *queueCollector
	collectErr *prometheus.CounterVec
}

var (
	_ controller.OutcomeMetrics = (*Agent)(nil)
	_ controller.QueueMetrics   = (*Agent)(nil)
	_ downloadapi.RouteSet      = (*Agent)(nil)
)

// New returns the metrics of the agent of node, with the reconcile and
// queue metrics and the agent process's own (go_*, process_*).
func New(node string, log *slog.Logger) *Agent {
	if log == nil {
		log = slog.Default()
	}
	reg := prometheus.NewRegistry()
	a := &Agent{
		reg: reg, wrapped: prometheus.WrapRegistererWith(prometheus.Labels{"node": node}, reg), log: log,
		reconciles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "humstack_agent_reconcile_total",
			Help: "Reconciles by controller and result (success, requeue, error).",
		}, []string{"controller", "result"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "humstack_agent_reconcile_errors_total",
			Help: "Failed reconciles by controller (panics included).",
		}, []string{"controller"}),
		durations: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "humstack_agent_reconcile_duration_seconds",
			Help:    "Time spent in the reconciler, per reconcile.",
			Buckets: durationBuckets,
		}, []string{"controller"}),
		queues: &queueCollector{watched: map[string]map[int]controller.QueueStats{}},
		collectErr: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "humstack_agent_vm_collect_errors_total",
			Help: "Per-VM values that could not be read during a scrape, by source (qmp, proc, net).",
		}, []string{"source"}),
	}
	a.wrapped.MustRegister(a.reconciles, a.errors, a.durations, a.queues, a.collectErr,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return a
}

// Reconciled implements controller.Metrics (the runtime calls
// ReconciledOutcome instead).
func (a *Agent) Reconciled(c string, d time.Duration, err error) {
	a.ReconciledOutcome(c, d, controller.OutcomeOf(controller.Result{}, err), err)
}

// ReconciledOutcome implements controller.OutcomeMetrics.
func (a *Agent) ReconciledOutcome(c string, d time.Duration, outcome string, err error) {
	a.reconciles.WithLabelValues(c, outcome).Inc()
	if err != nil {
		a.errors.WithLabelValues(c).Inc()
	}
	a.durations.WithLabelValues(c).Observe(d.Seconds())
}

// WatchQueue implements controller.QueueMetrics.
func (a *Agent) WatchQueue(c string, stats controller.QueueStats) func() {
	return a.queues.watch(c, stats)
}

// Handler serves the exposition. A collector that fails does not fail
// the scrape: the others are served (and the error logged).
func (a *Agent) Handler() http.Handler {
	return promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError, ErrorLog: errorLog{a.log},
	})
}

// Register implements downloadapi.RouteSet: GET /metrics on the node
// listener, behind its row of the rule table.
func (a *Agent) Register(r downloadapi.Registrar) {
	h := a.Handler()
	r.HandleFunc("GET "+Path, h.ServeHTTP)
}

// Gatherer is the registry, for tests.
func (a *Agent) Gatherer() prometheus.Gatherer { return a.reg }

type errorLog struct{ log *slog.Logger }

func (l errorLog) Println(v ...any) { l.log.Warn("metrics: a collector failed", "err", v) }

// queueCollector reads the watched controllers' queues when scraped.
// Controllers of the same name (a Core leader's successive terms) add up.
type queueCollector struct {
	mu      sync.Mutex
	next    int
	watched map[string]map[int]controller.QueueStats
}

var (
	queueDepthDesc = prometheus.NewDesc("humstack_agent_queue_depth",
		"Keys waiting for a worker (not delayed, not in process), by controller.", []string{"controller"}, nil)
	queueAgeDesc = prometheus.NewDesc("humstack_agent_queue_oldest_age_seconds",
		"How long the oldest waiting key has waited (0 when none waits), by controller.", []string{"controller"}, nil)
)

func (q *queueCollector) watch(c string, stats controller.QueueStats) func() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.next++
	id := q.next
	if q.watched[c] == nil {
		q.watched[c] = map[int]controller.QueueStats{}
	}
	q.watched[c][id] = stats
	return func() {
		q.mu.Lock()
		defer q.mu.Unlock()
		delete(q.watched[c], id)
		if len(q.watched[c]) == 0 {
			delete(q.watched, c)
		}
	}
}

func (q *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- queueDepthDesc
	ch <- queueAgeDesc
}

func (q *queueCollector) Collect(ch chan<- prometheus.Metric) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for c, all := range q.watched {
		depth, oldest := 0, time.Duration(0)
		for _, stats := range all {
			d, o := stats()
			depth += d
			oldest = max(oldest, o)
		}
		ch <- prometheus.MustNewConstMetric(queueDepthDesc, prometheus.GaugeValue, float64(depth), c)
		ch <- prometheus.MustNewConstMetric(queueAgeDesc, prometheus.GaugeValue, oldest.Seconds(), c)
	}
}
