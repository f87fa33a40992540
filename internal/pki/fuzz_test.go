package pki

import (
	"encoding/hex"
	"errors"
	"strings"
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

// FuzzVerifyClusterInfo feeds arbitrary cluster info (what an unverified
// server answers) to the agent's check: it never panics, fails with
// ErrNotProven or api.ErrInvalid, and accepts only what was signed with
// the token.
func FuzzVerifyClusterInfo(f *testing.F) {
	ca, err := NewCA(t0)
	if err != nil {
		f.Fatal(err)
	}
	const token = "0123456789ab.0123456789abcdef0123456789abcdef"
	salt := "00112233445566778899aabbccddeeff"
	mac, _ := clusterInfoMAC(hashSecret(salt, "0123456789abcdef0123456789abcdef"), ca.CertPEM)
	f.Add(string(ca.CertPEM), salt, hex.EncodeToString(mac))
	f.Add("", "", "")
	f.Add("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n", salt, strings.Repeat("0", 64))
	f.Fuzz(func(t *testing.T, caPEM, salt, macHex string) {
		info := api.ClusterInfo{CA: caPEM, Salt: salt, MAC: macHex}
		got, err := VerifyClusterInfo(token, info)
		if err != nil {
			if !errors.Is(err, ErrNotProven) && !errors.Is(err, api.ErrInvalid) {
				t.Errorf("VerifyClusterInfo: %v", err)
			}
			return
		}
		want, _ := clusterInfoMAC(hashSecret(salt, "0123456789abcdef0123456789abcdef"), []byte(caPEM))
		if hex.EncodeToString(want) != strings.ToLower(macHex) || got == nil || !got.IsCA {
			t.Errorf("accepted cluster info not signed with the token: %+v", info)
		}
	})
}
