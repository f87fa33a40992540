package apiserver

import (
	"context"
	"net/http"
	"time"

	"github.com/humstack/humstack/api"
)

// SetAuthTimer makes s tell spent how long authentication and
// authorization take in each request, read on the clock now.
func SetAuthTimer(s *Server, now func() time.Duration, spent func(time.Duration)) {
	s.authTimer = &authTimer{now: now, spent: spent}
}

// SetMetricsTimer makes s tell spent how long its request metrics take in
// each request (both ends), read on the clock now.
func SetMetricsTimer(s *Server, now func() time.Duration, spent func(time.Duration)) {
	s.metricsTimer = &authTimer{now: now, spent: spent}
}

// SweepEvents runs one event retention sweep and returns how many events
// it deleted.
func SweepEvents(ctx context.Context, s *Server) (int, error) { return s.events.sweep(ctx) }

// RepairLedgers runs one pass of the node ledger repair over every node.
func RepairLedgers(ctx context.Context, s *Server) error { return s.repair.pass(ctx) }

// ReleaseForTest runs the admitters' release of obj, as a removal does;
// tests use it to replay a release that arrives late.
func (s *Server) ReleaseForTest(ctx context.Context, k *api.Kind, obj api.Object) {
	s.released(ctx, k, obj)
}

// BackfillIPAM runs the address pools' backfill once (ipam_backfill.go).
func BackfillIPAM(ctx context.Context, s *Server) error { return s.ipam.backfill(ctx) }

// SetLoginClock makes the web console's sign-in read the time on now.
func SetLoginClock(s *Server, now func() time.Time) { s.login.now = now }

// HTTPServer is the http.Server Serve runs s with.
func HTTPServer(s *Server) *http.Server { return s.httpServer() }
