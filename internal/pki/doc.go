// Package pki is humstack's cluster certificate authority: one CA per
// installation (ECDSA P-256, crypto/x509, no external tools) that signs the
// API servers' serving certificates and the nodes' client certificates.
//
// Where the CA lives: with the embedded store, as two files (0600) in the
// API server's data dir (pki/ca.crt, pki/ca.key); with etcd, as one JSON
// value under a reserved store key (StoreCAKey), created only if absent, so
// two API servers starting at once agree on one CA and every API server
// serves with it.
//
// A node certificate has the subject CN "node:<name>", O "humstack:nodes"
// and the client-auth usage; the node makes its own key and sends a CSR,
// so the private key never leaves the node.
package pki
