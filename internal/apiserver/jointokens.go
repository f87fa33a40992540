package apiserver

import (
	"fmt"
	"net/http"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/auth"
	"github.com/humstack/humstack/internal/pki"
)

// Join tokens are records under a reserved store key, not API objects
// (pki.JoinToken): these two routes list them and revoke one. Unlike
// making one, neither needs the CA, so both work with --tls off too (a
// store may hold the tokens of an earlier start with TLS).

// listJoinTokens answers every join token's record, never its secret or
// hash, and removes the records of tokens that ended long ago
// (pki.JoinTokenRetention).
func (s *Server) listJoinTokens(w http.ResponseWriter, r *http.Request) {
	if err := s.doListJoinTokens(w, r); err != nil {
		writeError(r.Context(), w, s.log, err)
	}
}

func (s *Server) doListJoinTokens(w http.ResponseWriter, r *http.Request) error {
	if isWatch(r) {
		return fmt.Errorf("join tokens cannot be watched; list them: %w", api.ErrInvalid)
	}
	now := time.Now()
	toks, err := pki.ListJoinTokens(r.Context(), s.store, now)
	if err != nil {
		return err
	}
	out := make([]api.JoinTokenRecord, 0, len(toks))
	for _, t := range toks {
		out = append(out, t.Record(now))
	}
	return writeData(w, http.StatusOK, "joinTokens", out)
}

// revokeJoinToken makes a join token admit no more nodes.
func (s *Server) revokeJoinToken(w http.ResponseWriter, r *http.Request) {
	if err := s.doRevokeJoinToken(w, r); err != nil {
		writeError(r.Context(), w, s.log, err)
	}
}

func (s *Server) doRevokeJoinToken(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	now := time.Now()
	t, err := pki.RevokeJoinToken(ctx, s.store, r.PathValue("id"), auth.FromContext(ctx).Name, now)
	if err != nil {
		return err
	}
	s.log.InfoContext(ctx, "join token revoked", "request_id", requestID(ctx), "id", t.ID,
		"revoked", t.Revoked, "by", t.RevokedBy, "uses", t.Uses, "usedBy", t.UsedBy)
	return writeData(w, http.StatusOK, "joinToken", t.Record(now))
}

// collectJoinTokens removes the records of join tokens that ended long
// ago; the store does not grow with every token ever made. A failure is
// logged: the token just made is fine, and the next create tries again.
func (s *Server) collectJoinTokens(r *http.Request) {
	n, err := pki.CollectJoinTokens(r.Context(), s.store, time.Now())
	if err != nil {
		s.log.WarnContext(r.Context(), "join token records not collected", "request_id", requestID(r.Context()), "err", err)
	} else if n > 0 {
		s.log.InfoContext(r.Context(), "join token records removed", "request_id", requestID(r.Context()), "count", n,
			"retention", pki.JoinTokenRetention)
	}
}
