package auth

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/pki"
)

func TestX509(t *testing.T) {
	now := time.Now()
	ca, err := pki.NewCA(now)
	if err != nil {
		t.Fatal(err)
	}
	csr, _, err := pki.NewNodeCSR("node-a")
	if err != nil {
		t.Fatal(err)
	}
	nodePEM, err := ca.SignNodeCSR(csr, "node-a", now, pki.NodeValidity)
	if err != nil {
		t.Fatal(err)
	}
	servingPEM, _, err := ca.IssueServing([]string{"localhost"}, now, pki.ServingValidity)
	if err != nil {
		t.Fatal(err)
	}
	nodeCert, _ := pki.ParseCert(nodePEM)
	servingCert, _ := pki.ParseCert(servingPEM)
	verified := func(c *x509.Certificate) *tls.ConnectionState {
		return &tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{c, ca.Cert}}}
	}
	tests := []struct {
		name       string
		tls        *tls.ConnectionState
		recognized bool
		want       *Identity
	}{
		{"plain HTTP", nil, false, nil},
		{"TLS without a client certificate", &tls.ConnectionState{}, false, nil},
		{"node certificate", verified(nodeCert), true, &Identity{Name: "node:node-a", Kind: KindNode, Node: "node-a", Via: "x509"}},
		{"another kind of certificate", verified(servingCert), true, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/api/v0/nodes", nil)
			r.TLS = tc.tls
			id, ok, err := X509{}.Authenticate(r)
			if ok != tc.recognized {
				t.Fatalf("recognized = %v, want %v", ok, tc.recognized)
			}
			if tc.want != nil {
				if err != nil || !reflect.DeepEqual(id, tc.want) {
					t.Fatalf("got %+v, %v; want %+v", id, err, tc.want)
				}
				return
			}
			if tc.recognized && !errors.Is(err, api.ErrUnauthorized) {
				t.Fatalf("err = %v, want ErrUnauthorized", err)
			}
		})
	}
}
