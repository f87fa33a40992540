package apiserver_test

import (
	"crypto/tls"
	"net/http"
	"testing"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
)

// Browsers get HTTP/2 (the web console's watches share one connection;
// over HTTP/1.1 a browser allows six); HTTP/1.1 clients keep working.
func TestHTTP2ForBrowsers(t *testing.T) {
	addr, _, c, tc := securedAPIServer(t)
	conf := tc.Clone()
	conf.NextProtos = []string{"h2", "http/1.1"}
	conn, err := tls.Dial("tcp", addr, conf)
	if err != nil {
		t.Fatal(err)
	}
	if p := conn.ConnectionState().NegotiatedProtocol; p != "h2" {
		t.Errorf("a browser offering h2 gets %q", p)
	}
	conn.Close()

	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: tc.Clone(), ForceAttemptHTTP2: true}}
	resp, err := hc.Get("https://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Errorf("an HTTP/2 client got %s", resp.Proto)
	}
	if _, _, err := c.List(ctx(t), api.GroupKind, client.Scope{}); err != nil {
		t.Fatalf("the Go client (HTTP/1.1): %v", err)
	}
}
