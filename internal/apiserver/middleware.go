package apiserver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/auth"
)

type ctxKey int

const requestIDKey ctxKey = iota

func requestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// statusRecorder remembers the status for the access log and passes
// Flush through (watch streams need it).
type statusRecorder struct {
	http.ResponseWriter
	status int
	// route is the labels of the route that served the request (nil
	// until routed); metered says the request is counted in flight.
	route   *routeLabels
	metered bool
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// middleware wraps every request: a request id (kept from X-Request-Id when
// the caller sent a sane one), its audit record, authentication (the
// identity goes in the context; authorization is per route, see authz.go),
// panic recovery, one access log line and the request metrics (metrics.go). The audit record is opened before
// authentication so that refused requests are audited; it learns the
// identity once authentication has decided.
func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if len(id) == 0 || len(id) > 64 || !api.IsID(id) {
			id = newRequestID()
		}
		w.Header().Set("X-Request-Id", id)
		ctx := context.WithValue(r.Context(), requestIDKey, id)
		ctx, aud := s.audit.Begin(ctx, r, id)
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		if s.metrics != nil {
			t := s.metricsClock()
			s.beginMetrics(rec)
			s.metricsSpent(t)
		}
		defer func() {
			p := recover()
			// A handler that has sent its status line and cannot finish
			// (a streamed list, liststream.go) aborts: its records are
			// kept, then net/http breaks the connection or stream.
			aborted := p == http.ErrAbortHandler
			if p != nil && !aborted {
				s.log.ErrorContext(ctx, "handler panicked", "request_id", id, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				writeError(ctx, rec, s.log, fmt.Errorf("panic: %v", p))
			}
			aud.End(rec.status)
			if s.metrics != nil {
				t := s.metricsClock()
				s.endMetrics(rec, r, start)
				s.metricsSpent(t)
			}
			level := slog.LevelDebug
			if r.Method != http.MethodGet || rec.status >= 400 || aborted {
				level = slog.LevelInfo // writes and failures are worth an operator's eye
			}
			if aborted {
				s.log.Log(ctx, level, "request", "request_id", id, "method", r.Method, "path", r.URL.Path,
					"status", rec.status, "duration", time.Since(start), "aborted", true)
				panic(p)
			}
			s.log.Log(ctx, level, "request", "request_id", id, "method", r.Method, "path", r.URL.Path,
				"status", rec.status, "duration", time.Since(start))
		}()
		r = r.WithContext(ctx)
		t := s.authClock()
		// A browser's websocket carries its bearer token as a subprotocol
		// (auth.WebsocketBearer): moved to Authorization, then checked by
		// the one chain like any other bearer token.
		var who *auth.Identity
		wr, err := auth.WebsocketBearer(r)
		if err == nil {
			r = wr
			who, err = s.authenticate(r)
		}
		s.authSpent(t)
		if err != nil {
			if errors.Is(err, api.ErrUnauthorized) {
				aud.Deny(err.Error()) // not a store failure while checking a credential
			}
			writeError(ctx, rec, s.log, err)
			return
		}
		aud.SetIdentity(who)
		next.ServeHTTP(rec, r.WithContext(auth.WithIdentity(ctx, who)))
	})
}

// authenticate runs the authenticator chain once per request. With
// authorization on, a request without credentials is refused here, before
// any route, except the health check.
func (s *Server) authenticate(r *http.Request) (*auth.Identity, error) {
	id, ok, err := s.authn.Authenticate(r)
	if err != nil {
		return nil, err
	}
	if !ok || id == nil {
		id = auth.Anonymous
	}
	if s.policy != nil && id.Kind == auth.KindAnonymous && r.URL.Path != "/healthz" && !isPublic(r) {
		return nil, auth.ErrAuthenticationRequired
	}
	return id, nil
}
