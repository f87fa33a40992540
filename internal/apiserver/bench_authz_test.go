package apiserver_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/auth"
)

// rbacBenchEnv is benchEnv with --authorization rbac, creating as an
// editor of g/ns: every request is authenticated by token (a store read
// and a hash) and authorized against the bindings.
func rbacBenchEnv(b *testing.B, secure bool) client.Resource[*api.VirtualMachine] {
	e := newRBACEnvWith(b, nil, secure)
	tr := &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256}
	if secure {
		tr.TLSClientConfig = e.srv.Client().Transport.(*http.Transport).TLSClientConfig
	}
	hc := &http.Client{Transport: tr}
	admin, err := client.New(e.srv.URL, client.WithHTTPClient(hc), client.WithToken(e.tokens["admin"]))
	if err != nil {
		b.Fatal(err)
	}
	e.c = admin
	e.tenancy("g", "ns")
	e.token("dev", "")
	e.bind("dev", auth.RoleEditor, "g", "ns")
	c, err := client.New(e.srv.URL, client.WithHTTPClient(hc), client.WithToken(e.tokens["dev"]))
	if err != nil {
		b.Fatal(err)
	}
	return client.For[*api.VirtualMachine](c)
}

// BenchmarkCreateRBAC is BenchmarkCreate with --authorization rbac; the
// difference is the cost of authentication and authorization.
func BenchmarkCreateRBAC(b *testing.B) { benchCreateRBAC(b, false) }

// BenchmarkCreateSecure is BenchmarkCreateRBAC over HTTPS (TLS on kept-alive
// connections, as the client uses them): everything a secure install adds
// to a create.
func BenchmarkCreateSecure(b *testing.B) { benchCreateRBAC(b, true) }

func benchCreateRBAC(b *testing.B, secure bool) {
	for _, c := range concurrencies {
		b.Run(fmt.Sprintf("c=%d", c), func(b *testing.B) {
			vms := rbacBenchEnv(b, secure)
			b.ResetTimer()
			report(b, runOps(b, c, func(i int) error {
				_, err := vms.Create(b.Context(), newVM(fmt.Sprintf("vm%d", i)))
				return err
			}))
		})
	}
}

// BenchmarkAuthorize is the authorizer alone: an editor among 1,000
// bindings deciding a create.
func BenchmarkAuthorize(b *testing.B) {
	var bindings []auth.Binding
	for i := range 1000 {
		bindings = append(bindings, auth.Binding{Role: auth.RoleEditor, Scope: auth.Scope{Group: fmt.Sprintf("g%d", i)},
			Subjects: []api.Subject{{Kind: api.SubjectUser, Name: fmt.Sprintf("u%d", i)}}})
	}
	p := auth.NewPolicy(nil, bindings)
	id := &auth.Identity{Name: "u500", Kind: auth.KindUser}
	a := auth.Attributes{Verb: auth.VerbCreate, Kind: "virtualmachine", Group: "g500", Namespace: "ns"}
	for b.Loop() {
		if err := auth.Authorize(id, a, p); err != nil {
			b.Fatal(err)
		}
	}
}
