package pki

import (
	"errors"
	"testing"

	"github.com/humstack/humstack/api"
)

// FuzzParse feeds arbitrary bytes to every parser of certificates, keys,
// CSRs and join tokens: each either parses or fails with api.ErrInvalid
// (ErrUnauthorized for tokens), and never panics.
func FuzzParse(f *testing.F) {
	ca, err := NewCA(t0)
	if err != nil {
		f.Fatal(err)
	}
	csr, _, err := NewNodeCSR("node-a")
	if err != nil {
		f.Fatal(err)
	}
	key, _ := ca.KeyPEM()
	for _, seed := range [][]byte{ca.CertPEM, csr, key, []byte("0123456789ab.0123456789abcdef0123456789abcdef"), nil} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := ParseCert(b); err != nil && !errors.Is(err, api.ErrInvalid) {
			t.Errorf("ParseCert: %v", err)
		}
		if _, err := ParseCerts(b); err != nil && !errors.Is(err, api.ErrInvalid) {
			t.Errorf("ParseCerts: %v", err)
		}
		if _, err := ParseKey(b); err != nil && !errors.Is(err, api.ErrInvalid) {
			t.Errorf("ParseKey: %v", err)
		}
		if _, err := ca.SignNodeCSR(b, "node-a", t0, NodeValidity); err != nil && !errors.Is(err, api.ErrInvalid) {
			t.Errorf("SignNodeCSR: %v", err)
		}
		if _, _, err := ParseJoinToken(string(b)); err != nil && !errors.Is(err, api.ErrUnauthorized) {
			t.Errorf("ParseJoinToken: %v", err)
		}
	})
}
