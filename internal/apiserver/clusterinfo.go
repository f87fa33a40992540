package apiserver

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/audit"
	"github.com/humstack/humstack/internal/pki"
)

// clusterInfoRoute answers, to anyone, the cluster CA signed with a join
// token's stored hash (pki/clusterinfo.go): what lets an agent that holds
// only the token trust this server before it sends the token. It is public
// like the join, and for the same reason: its caller has no credential
// yet. It tells an anonymous caller nothing but the CA, which every TLS
// handshake shows anyway, and the salt: every failure (unknown, expired,
// used up, revoked) is the same 404.
const clusterInfoRoute = "GET /api/v0/jointokens/{id}/cluster-info"

// isClusterInfo reports whether r asks for a join token's cluster info.
func isClusterInfo(r *http.Request) bool {
	rest, ok := strings.CutPrefix(r.URL.Path, "/api/v0/jointokens/")
	return ok && r.Method == http.MethodGet && strings.HasSuffix(rest, "/cluster-info") && strings.Count(rest, "/") == 1
}

// Guessing ids: a token id is 48 random bits, and finding a valid one
// gives nothing secret (the CA is public; the salt and MAC do not help to
// find the 128-bit secret). Still, each guess costs a store read, so the
// misses (404s) of one source address are bounded: missBurst at once,
// then one per missEvery; past that, every cluster info request from that
// address is 503 (agents retry it) until its budget refills. A valid id
// costs nothing, so agents joining behind one NAT are not held up.
const (
	missBurst = 10
	missEvery = 6 * time.Second
	missAddrs = 4096 // addresses remembered; beyond, the full ones are forgotten
)

// missLimiter counts cluster info misses per source address.
type missLimiter struct {
	mu  sync.Mutex
	per map[string]*rate.Limiter
}

// blocked reports whether addr has spent its misses.
func (l *missLimiter) blocked(addr string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim := l.per[addr]
	return lim != nil && lim.TokensAt(now) < 1
}

// miss spends one of addr's misses.
func (l *missLimiter) miss(addr string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim := l.per[addr]
	if lim == nil {
		if l.per == nil || len(l.per) >= missAddrs {
			l.forgetFull(now)
		}
		lim = rate.NewLimiter(rate.Every(missEvery), missBurst)
		l.per[addr] = lim
	}
	lim.AllowN(now, 1)
}

// forgetFull drops the addresses whose budget has refilled; if that is
// not enough, all of them (an attacker with that many addresses gets a
// fresh budget: the limit slows guessing, it is not what protects).
func (l *missLimiter) forgetFull(now time.Time) {
	for a, lim := range l.per {
		if lim.TokensAt(now) >= missBurst {
			delete(l.per, a)
		}
	}
	if l.per == nil || len(l.per) >= missAddrs {
		l.per = map[string]*rate.Limiter{}
	}
}

// sourceHost is the TCP peer's address without its port.
func sourceHost(r *http.Request) string {
	if h, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return h
	}
	return r.RemoteAddr
}

func (s *Server) clusterInfo(w http.ResponseWriter, r *http.Request) {
	if err := s.doClusterInfo(w, r); err != nil {
		writeError(r.Context(), w, s.log, err)
	}
}

func (s *Server) doClusterInfo(w http.ResponseWriter, r *http.Request) error {
	if s.tls == nil {
		return s.tlsOff()
	}
	ctx, now, src := r.Context(), time.Now(), sourceHost(r)
	if s.misses.blocked(src, now) {
		audit.Deny(ctx, "cluster info: too many unknown join token ids from this address")
		return fmt.Errorf("too many requests for unknown join tokens from this address; try again in a minute: %w", api.ErrUnavailable)
	}
	id := r.PathValue("id")
	info, err := pki.ClusterInfoFor(ctx, s.store, id, s.tls.CA.CertPEM, now)
	if errors.Is(err, api.ErrNotFound) {
		// The reason (expired, revoked...) goes to the log and the audit
		// line, which only the operator reads.
		s.misses.miss(src, now)
		audit.Deny(ctx, err.Error())
		s.log.InfoContext(ctx, "cluster info refused", "request_id", requestID(ctx), "source", src, "err", err)
		return fmt.Errorf("no valid join token with this id (it is unknown, expired, used up or revoked): %w", api.ErrNotFound)
	}
	if err != nil {
		return err
	}
	audit.Keep(ctx)
	s.log.InfoContext(ctx, "cluster info answered", "request_id", requestID(ctx), "id", id, "source", src)
	return writeData(w, http.StatusOK, "clusterInfo", info)
}
