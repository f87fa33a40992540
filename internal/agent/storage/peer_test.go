package storage

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/humstack/humstack/internal/pki/pkitest"

	"github.com/humstack/humstack/internal/agent/downloadapi"
	"github.com/humstack/humstack/internal/host/qcow2"
	"github.com/humstack/humstack/internal/pki"
	"github.com/humstack/humstack/internal/testenv"
)

// peerNode is a node whose fetches use mutual TLS with cert, trusting ca.
func peerNode(t *testing.T, env *testenv.Env, name string, ca *pki.CA, cert *tls.Certificate) node {
	t.Helper()
	testenv.RequireCommands(t, qcow2.Binary)
	dir, img := t.TempDir(), t.TempDir()
	peer := func(n string) *http.Client {
		return &http.Client{Transport: &http.Transport{TLSClientConfig: pki.PeerClientConfig(ca.Pool(), func() *tls.Certificate { return cert }, n)}}
	}
	d := New(Config{Node: name, Dir: dir, ImageDir: img, Client: env.Client, Peer: peer, RetryAfter: 200 * time.Millisecond})
	return node{d, dir, img}
}

// TestBaseImageOverMutualTLS: with no shared secret anywhere, a node fetches
// an image entity from its holder over mutual TLS with its node
// certificate; a node whose certificate is from another CA is refused.
func TestBaseImageOverMutualTLS(t *testing.T) {
	env := testenv.Start(t)
	seedObjects(t, env)
	ctx := context.Background()
	ca, _ := pki.NewCA(time.Now())
	other, _ := pki.NewCA(time.Now())

	var n1 node
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		downloadapi.Handler("", n1, slog.New(slog.DiscardHandler)).ServeHTTP(w, r)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{*pkitest.NodeCert(t, ca, "n1")}, ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: ca.Pool()}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	n1 = peerNode(t, env, "n1", ca, pkitest.NodeCert(t, ca, "n1"))
	n2 := peerNode(t, env, "n2", ca, pkitest.NodeCert(t, ca, "n2"))
	n3 := peerNode(t, env, "n3", ca, pkitest.NodeCert(t, other, "n3"))

	env.Create(t, "meta: {apiType: systemv0/image, id: img, group: g}\nspec: {entityMap: {v1: e1}}")
	env.Create(t, "meta: {apiType: systemv0/imageentity, id: e1, group: g}\nspec: {source: {namespace: ns, blockStorageID: src}}")
	_, sum := holdEntity(ctx, t, env, n1, u.Host)

	a := imageDisk("a", "v1", "64M")
	start := time.Now()
	until(t, n2.Driver, a, StateActive, nil)
	t.Logf("32 MiB image fetched over mutual TLS in %v", time.Since(start).Round(time.Millisecond))
	cached := n2.cachedFile("g", "e1", sum)
	checkOverlay(t, n2.Path("g", "ns", "a"), 64<<20, cached)

	b := imageDisk("b", "v1", "64M")
	until(t, n3.Driver, b, StateError, nil)
	if _, err := os.Stat(n3.cachedFile("g", "e1", sum)); err == nil {
		t.Fatal("a node with another CA's certificate got the image")
	}
}
