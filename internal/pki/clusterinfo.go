package pki

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/humstack/humstack/api"
)

// Cluster info is how an agent that holds only a join token learns the
// cluster CA without trusting the network (kubeadm's token discovery, for
// a server that keeps only a salted hash of the token's secret):
//
//   - the agent asks any API server, without verifying its certificate,
//     for the cluster info of the token's id: the id alone crosses that
//     connection, never the secret;
//   - the server answers the CA certificate (PEM), the token's salt and
//     MAC = HMAC-SHA256(key = the stored hash, msg = the CA PEM), the key
//     being the 32 bytes of SHA-256(salt ":" secret) that the server stores
//     (hashSecret, hex-decoded);
//   - the agent recomputes the hash from the salt and its secret and checks
//     the MAC: only a server that holds the token's record (or someone who
//     knows the secret) can make it. Then it trusts that CA, and only then
//     sends the token with its CSR, over a connection verified by it.
//
// The salt is no secret: with it and the MAC, finding the secret still
// means guessing 128 random bits.

// ErrNotProven marks cluster info whose MAC does not match the join
// token: the server that sent it does not hold the token's record. It is
// an api.ErrUnauthorized, never retried.
var ErrNotProven = fmt.Errorf("cluster info not signed with the join token: %w", api.ErrUnauthorized)

// ClusterInfo is the answer for join token t: caPEM and the proof that the
// server holds t's hash.
func (t *JoinToken) ClusterInfo(caPEM []byte) (api.ClusterInfo, error) {
	mac, err := clusterInfoMAC(t.Hash, caPEM)
	if err != nil {
		return api.ClusterInfo{}, fmt.Errorf("join token %s: stored hash: %w", t.ID, err)
	}
	return api.ClusterInfo{CA: string(caPEM), Salt: t.Salt, MAC: hex.EncodeToString(mac)}, nil
}

// ClusterInfoFor returns the cluster info of join token id, or
// api.ErrNotFound when the token does not admit nodes at now: unknown,
// expired, used up or revoked. The error says which, for the server's log
// and audit; the caller answers anonymous requests without it. A used-up
// token gets no answer either: the join that would follow is refused, and
// a node that lost its credential needs a new token anyway. The token's
// node name, if any, is not checked here (the request does not say which
// node asks); the join checks it.
func ClusterInfoFor(ctx context.Context, st TokenStore, id string, caPEM []byte, now time.Time) (api.ClusterInfo, error) {
	t, _, err := readJoinToken(ctx, st, id)
	if err != nil {
		return api.ClusterInfo{}, err
	}
	if state := t.State(now); state != api.JoinTokenValid {
		return api.ClusterInfo{}, fmt.Errorf("join token %s is %s: %w", id, state, api.ErrNotFound)
	}
	return t.ClusterInfo(caPEM)
}

// VerifyClusterInfo checks info against the join token (id.secret) and
// returns the CA it vouches for. A MAC that does not match is
// ErrNotProven; it is checked before anything else of info is looked at,
// so an impostor's bytes are never parsed. Malformed input is
// api.ErrInvalid (ErrUnauthorized for a malformed token).
func VerifyClusterInfo(token string, info api.ClusterInfo) (*x509.Certificate, error) {
	_, secret, err := ParseJoinToken(token)
	if err != nil {
		return nil, err
	}
	if len(info.Salt) > 256 || len(info.CA) > maxPEM {
		return nil, fmt.Errorf("cluster info: salt of %d bytes, CA of %d: %w", len(info.Salt), len(info.CA), api.ErrInvalid)
	}
	got, err := hex.DecodeString(info.MAC)
	if err != nil || len(got) != sha256.Size {
		return nil, fmt.Errorf("cluster info: MAC %.80q is not %d hex bytes: %w", info.MAC, sha256.Size, ErrNotProven)
	}
	want, err := clusterInfoMAC(hashSecret(info.Salt, secret), []byte(info.CA))
	if err != nil {
		return nil, err
	}
	if !hmac.Equal(got, want) {
		return nil, ErrNotProven
	}
	ca, err := ParseCert([]byte(info.CA))
	if err != nil {
		return nil, fmt.Errorf("cluster info: CA: %w", err)
	}
	if !ca.IsCA {
		return nil, fmt.Errorf("cluster info: %s is not a CA certificate: %w", ca.Subject, api.ErrInvalid)
	}
	return ca, nil
}

// clusterInfoMAC is HMAC-SHA256(key = hex-decoded hash, msg = caPEM).
func clusterInfoMAC(hash string, caPEM []byte) ([]byte, error) {
	key, err := hex.DecodeString(hash)
	if err != nil || len(key) != sha256.Size {
		return nil, errors.New("not a hex SHA-256")
	}
	m := hmac.New(sha256.New, key)
	m.Write(caPEM)
	return m.Sum(nil), nil
}
