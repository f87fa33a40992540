package client

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/humstack/humstack/api"
)

// TestBearerTokenAndTLS: the token goes with every request, over a
// connection verified against the CA given; another CA is refused.
func TestBearerTokenAndTLS(t *testing.T) {
	var got string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Get("Authorization")
		w.Write([]byte(`{"code":200,"error":null,"data":{"groups":[]},"resourceVersion":"1"}`))
	}))
	defer srv.Close()
	pool := srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	c, err := New(srv.URL, WithTLS(&tls.Config{RootCAs: pool}), WithToken("s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.List(context.Background(), api.GroupKind, Scope{}); err != nil {
		t.Fatal(err)
	}
	if got != "Bearer s3cret" {
		t.Errorf("Authorization = %q", got)
	}
	other, _ := TrustCA(nil)
	if other != nil {
		t.Fatal("TrustCA of nothing succeeded")
	}
	c, _ = New(srv.URL, WithTLS(&tls.Config{}))
	_, _, err = c.List(context.Background(), api.GroupKind, Scope{})
	if err == nil || !strings.Contains(err.Error(), "does not chain to the configured CA") {
		t.Errorf("unknown CA: err = %v", err)
	}
	if _, err := PinCA("sha256:abc"); err == nil {
		t.Error("a short fingerprint was accepted")
	}
}

// The client stays on HTTP/1.1 although the apiserver offers HTTP/2, and
// WithTLS leaves the caller's configuration alone.
func TestClientHTTP1AndOwnTLSConfig(t *testing.T) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	c, err := New("https://127.0.0.1:1", WithTLS(tc))
	if err != nil {
		t.Fatal(err)
	}
	tr := c.hc.Transport.(*http.Transport)
	if tr.ForceAttemptHTTP2 {
		t.Error("the client attempts HTTP/2")
	}
	if tr.TLSClientConfig == tc {
		t.Error("WithTLS shares the caller's tls.Config with the transport")
	}
}
