package apiserver

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/auth"
	"github.com/humstack/humstack/internal/pki"
)

// TLSOptions are the server's part of TLS: the cluster CA that signs node
// certificates. nil (plain HTTP) turns node join off.
type TLSOptions struct {
	CA *pki.CA
	// NodeCertValidity is how long a node certificate is valid; 0 means
	// pki.NodeValidity.
	NodeCertValidity time.Duration
	// NodeClient is the API server's client certificate for the agents'
	// node listeners (consoles over mutual TLS); nil: the consoles use the
	// shared secret.
	NodeClient *tls.Certificate
}

// maxJoinBody bounds a join or join-token request: a CSR is ~0.5 KiB.
const maxJoinBody = 64 << 10

// joinRoutes registers node join and the join tokens' routes. Making,
// listing and revoking join tokens is "create/list/delete jointoken" in
// the cluster (cluster-admin); a join is public to authorization, since
// its credential is the token or the node's own certificate, which doJoin
// checks; so is a join token's cluster info (clusterinfo.go), which tells
// only who knows the token that it reached the real server.
func (s *Server) joinRoutes() {
	s.handle(nil, "POST /api/v0/jointokens", s.createJoinToken)
	s.handle(nil, "GET /api/v0/jointokens", s.listJoinTokens)
	s.handle(nil, "DELETE /api/v0/jointokens/{id}", s.revokeJoinToken)
	s.handle(nil, joinRoute, s.join)
	s.handle(nil, clusterInfoRoute, s.clusterInfo)
}

// joinRoute is the join's route; anonymous callers may reach it (authenticate).
const joinRoute = "POST /api/v0/nodes/{id}/join"

// isPublic reports whether r asks for one of the API paths besides the
// health check that a caller without credentials may use: a join, or a
// join token's cluster info.
func isPublic(r *http.Request) bool { return isJoin(r) || isClusterInfo(r) || isUI(r) }

// isJoin reports whether r asks for a join.
func isJoin(r *http.Request) bool {
	rest, ok := strings.CutPrefix(r.URL.Path, "/api/v0/nodes/")
	return ok && r.Method == http.MethodPost && strings.HasSuffix(rest, "/join") && strings.Count(rest, "/") == 1
}

func (s *Server) tlsOff() error {
	return fmt.Errorf("node join needs HTTPS: the apiserver runs with --tls off (start it with --tls auto): %w", api.ErrUnavailable)
}

func (s *Server) createJoinToken(w http.ResponseWriter, r *http.Request) {
	if err := s.doCreateJoinToken(w, r); err != nil {
		writeError(r.Context(), w, s.log, err)
	}
}

func (s *Server) doCreateJoinToken(w http.ResponseWriter, r *http.Request) error {
	if s.tls == nil {
		return s.tlsOff()
	}
	var req api.JoinTokenRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	ttl, err := time.ParseDuration(req.TTL)
	if err != nil || ttl <= 0 {
		return api.Invalid("ttl", "%q: want a positive duration such as 1h", req.TTL)
	}
	tok, rec, err := pki.CreateJoinToken(r.Context(), s.store, pki.TokenOptions{
		TTL: ttl, MaxUses: req.MaxUses, Node: req.Node, Description: req.Description,
		CreatedBy: auth.FromContext(r.Context()).Name}, time.Now())
	if err != nil {
		return err
	}
	s.log.InfoContext(r.Context(), "join token created", "request_id", requestID(r.Context()), "id", rec.ID,
		"expires", rec.Expires, "maxUses", rec.MaxUses, "node", rec.Node, "by", rec.CreatedBy)
	s.collectJoinTokens(r)
	return writeData(w, http.StatusCreated, "joinToken", api.JoinTokenInfo{
		Token: tok, ID: rec.ID, Expires: rec.Expires, MaxUses: rec.MaxUses, Node: rec.Node, CAFingerprint: s.tls.CA.Fingerprint(),
	})
}

func (s *Server) join(w http.ResponseWriter, r *http.Request) {
	if err := s.doJoin(w, r); err != nil {
		writeError(r.Context(), w, s.log, err)
	}
}

// doJoin signs a node's CSR when the request holds a valid join token or
// comes from that same node's current certificate (renewal).
func (s *Server) doJoin(w http.ResponseWriter, r *http.Request) error {
	if s.tls == nil {
		return s.tlsOff()
	}
	node, err := pathID(r)
	if err != nil {
		return err
	}
	var req api.JoinRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	id := auth.FromContext(ctx)
	via := "renewal"
	switch {
	case req.Token != "":
		if err := pki.UseJoinToken(ctx, s.store, req.Token, node, time.Now()); err != nil {
			return err
		}
		via = "join token"
	case id.Kind == auth.KindNode && id.Node == node:
	default:
		return fmt.Errorf("node %s: a join needs a join token, a renewal the node's own certificate: %w", node, api.ErrUnauthorized)
	}
	validity := s.tls.NodeCertValidity
	if validity <= 0 {
		validity = pki.NodeValidity
	}
	certPEM, err := s.tls.CA.SignNodeCSR([]byte(req.CSR), node, time.Now(), validity)
	if err != nil {
		return err
	}
	s.log.InfoContext(ctx, "node certificate issued", "request_id", requestID(ctx), "node", node, "via", via)
	return writeData(w, http.StatusOK, "nodeCredential", api.NodeCredential{
		Certificate: string(certPEM), CA: string(s.tls.CA.CertPEM),
	})
}

// decodeBody reads a small JSON body strictly.
func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, maxJoinBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("request body: %v: %w", err, api.ErrInvalid)
	}
	return nil
}

// writeData answers {"code":status,"error":null,"data":{key: v}}.
func writeData(w http.ResponseWriter, status int, key string, v any) error {
	b, err := json.Marshal(map[string]any{"code": status, "error": nil, "data": map[string]any{key: v}})
	if err != nil {
		return err
	}
	writeRaw(w, status, append(b, '\n'))
	return nil
}
