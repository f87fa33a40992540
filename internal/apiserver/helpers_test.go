package apiserver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/apiserver"
	"github.com/humstack/humstack/internal/storage"
	"github.com/humstack/humstack/internal/storage/bolt"
)

type env struct {
	t     testing.TB
	store storage.Store
	srv   *httptest.Server
	c     *client.Client
}

func newEnv(t testing.TB) *env {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	srv := httptest.NewServer(apiserver.New(st, apiserver.Options{Log: log, Heartbeat: time.Second}).Handler())
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
		st.Close()
	})
	c, err := client.New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, store: st, srv: srv, c: c}
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// mustCreate decodes YAML and creates it.
func (e *env) mustCreate(doc string) api.Object {
	e.t.Helper()
	obj, err := api.Decode([]byte(doc))
	if err != nil {
		e.t.Fatalf("decode: %v", err)
	}
	out, err := e.c.Create(ctx(e.t), obj)
	if err != nil {
		e.t.Fatalf("create %s: %v", obj.GetMeta().ID, err)
	}
	return out
}

// tenancy creates group g and namespace g/ns.
func (e *env) tenancy(g string, nss ...string) {
	e.mustCreate("meta: {apiType: corev0/group, id: " + g + "}")
	for _, ns := range nss {
		e.mustCreate("meta: {apiType: corev0/namespace, id: " + ns + ", group: " + g + "}")
	}
}

func network(g, ns, id string) string {
	return "meta: {apiType: systemv0/network, id: " + id + ", group: " + g + ", namespace: " + ns +
		", annotations: {networkv0/network_type: Bridge}}\nspec: {ipv4CIDR: 10.0.0.0/24}\n"
}

type rawResponse struct {
	Code   int    `json:"code"`
	Error  string `json:"error"`
	Reason string `json:"reason"`
	Fields []struct {
		Field string `json:"field"`
	} `json:"fields"`
	Data json.RawMessage `json:"data"`
}

// do sends a raw request and decodes the envelope.
func (e *env) do(method, path, contentType, body string) (int, rawResponse) {
	e.t.Helper()
	req, _ := http.NewRequestWithContext(ctx(e.t), method, e.srv.URL+path, bytes.NewBufferString(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var r rawResponse
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &r); err != nil {
		e.t.Fatalf("%s %s: body %q is not an envelope: %v", method, path, b, err)
	}
	if r.Code != resp.StatusCode {
		e.t.Fatalf("envelope code %d != HTTP %d", r.Code, resp.StatusCode)
	}
	return resp.StatusCode, r
}

func (e *env) revision() int64 {
	e.t.Helper()
	rev, err := e.store.Revision(ctx(e.t))
	if err != nil {
		e.t.Fatal(err)
	}
	return rev
}
