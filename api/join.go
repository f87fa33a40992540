package api

import "time"

// Node join: the wire types of the two routes behind it (docs/tls.md).
//
//	POST /api/v0/jointokens            JoinTokenRequest -> {"data":{"joinToken": JoinTokenInfo}}
//	GET /api/v0/jointokens                                 {"data":{"joinTokens": [JoinTokenRecord]}}
//	DELETE /api/v0/jointokens/{id}      (revoke)         -> {"data":{"joinToken": JoinTokenRecord}}
//	POST /api/v0/nodes/{name}/join     JoinRequest      -> {"data":{"nodeCredential": NodeCredential}}
//	GET /api/v0/jointokens/{id}/cluster-info (public)    -> {"data":{"clusterInfo": ClusterInfo}}
//
// A join is admitted by a join token, or, to renew, by the node's current
// certificate (the TLS client certificate of the request).

// JoinTokenRequest asks for a join token.
type JoinTokenRequest struct {
	// TTL is how long the token is valid, as a Go duration ("1h").
	TTL string `json:"ttl"`
	// MaxUses is how many nodes may join with it; 0 means any number
	// until it expires.
	MaxUses int `json:"maxUses"`
	// Node, when set, is the only node name the token admits.
	Node        string `json:"node,omitempty"`
	Description string `json:"description,omitempty"`
}

// JoinTokenInfo is a new join token: Token is shown only this once.
type JoinTokenInfo struct {
	Token   string    `json:"token"`
	ID      string    `json:"id"`
	Expires time.Time `json:"expires"`
	MaxUses int       `json:"maxUses"`
	Node    string    `json:"node,omitempty"`
	// CAFingerprint is the cluster CA's fingerprint, for the agent's
	// apiServerCAFingerprint key.
	CAFingerprint string `json:"caFingerprint"`
}

// States of a join token (JoinTokenRecord.State): valid admits nodes; the
// others say why it no longer does.
const (
	JoinTokenValid   = "valid"
	JoinTokenExpired = "expired"
	JoinTokenUsed    = "used"    // used up: MaxUses nodes joined with it
	JoinTokenRevoked = "revoked" // DELETE /api/v0/jointokens/{id}
)

// JoinTokenRecord is a join token as it is listed: what it admits and
// what became of it, never its secret or hash.
type JoinTokenRecord struct {
	ID          string    `json:"id"`
	State       string    `json:"state"`
	Description string    `json:"description,omitempty"`
	Node        string    `json:"node,omitempty"`
	Created     time.Time `json:"created"`
	CreatedBy   string    `json:"createdBy,omitempty"`
	Expires     time.Time `json:"expires"`
	MaxUses     int       `json:"maxUses"`
	Uses        int       `json:"uses"`
	UsedBy      []string  `json:"usedBy,omitempty"`
	LastUsed    time.Time `json:"lastUsed,omitzero"`
	Revoked     time.Time `json:"revoked,omitzero"`
	RevokedBy   string    `json:"revokedBy,omitempty"`
	// Forget is when the server removes the record: a while after the
	// token stopped admitting nodes (docs/tls.md).
	Forget time.Time `json:"forget"`
}

// JoinRequest is a node's request for its certificate.
type JoinRequest struct {
	// Token is the join token; empty when renewing with the current
	// certificate.
	Token string `json:"token,omitempty"`
	// CSR is a PEM CERTIFICATE REQUEST for the node's own key.
	CSR string `json:"csr"`
}

// NodeCredential is the answer to a join: the node's certificate and the
// cluster CA (both PEM).
type NodeCredential struct {
	Certificate string `json:"certificate"`
	CA          string `json:"ca"`
}

// ClusterInfo is the public answer for a valid join token's id: the
// cluster CA, and the proof that the server holds the token's stored hash,
// so that an agent knowing only the token can trust that CA before it
// sends the token (internal/pki/clusterinfo.go, docs/tls.md).
type ClusterInfo struct {
	// CA is the cluster CA certificate, PEM.
	CA string `json:"ca"`
	// Salt is the join token's salt (not secret).
	Salt string `json:"salt"`
	// MAC is hex HMAC-SHA256 of CA, keyed with the 32 bytes of
	// SHA-256(salt ":" secret).
	MAC string `json:"mac"`
}
