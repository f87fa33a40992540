package uitest_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/humstack/humstack/internal/apiserver"
	"github.com/humstack/humstack/internal/auth"
	"github.com/humstack/humstack/internal/storage/bolt"
	"github.com/humstack/humstack/internal/testenv"
)

// BenchmarkUIFirstLoad loads the web console's sign-in page b.N times in
// Chromium, each time in a fresh browser context (empty cache, no
// session), from an in-process API server on loopback (no lab). It reports
// the time until the app's first view is rendered as ms/op (the goal is
// under 1 s; reported, not asserted), the navigation timing's
// domContentLoaded and load ends, and as ns/op the wall time of a whole
// load including the context's creation (Chromium's start is not counted).
func BenchmarkUIFirstLoad(b *testing.B) {
	requireBrowser(b)
	// RBAC, as a real server: the app's first view is the sign-in form
	// (with authorization off it would go straight to the cluster).
	e := testenv.StartWith(b, func(st *bolt.Store, o *apiserver.Options) {
		o.Authorization = apiserver.AuthorizationRBAC
		o.Authenticator = &auth.TokenAuthenticator{Lookup: apiserver.TokenLookup(st)}
	})
	var out strings.Builder
	b.ResetTimer()
	err := runNodeTo(b, func(l string) {
		if strings.HasPrefix(l, "{") { // the result
			out.WriteString(l)
		} else {
			b.Log(l)
		}
	}, 5*time.Minute, map[string]string{
		"HUMSTACK_UI_URL": e.URL + "/ui/", "HUMSTACK_LOADS": strconv.Itoa(b.N), "HUMSTACK_CHROMIUM": chromium,
	}, "test/browser/lib/firstload.mjs")
	b.StopTimer()
	if err != nil {
		b.Fatalf("first-load run: %v", err)
	}
	var res struct {
		Runs []struct{ ResponseEnd, DomContentLoaded, Load, FirstView, Wall float64 } `json:"runs"`
	}
	if err := json.Unmarshal([]byte(out.String()), &res); err != nil || len(res.Runs) != b.N {
		b.Fatalf("first-load output (%d runs, want %d): %v: %s", len(res.Runs), b.N, err, out.String())
	}
	var first, dcl, load, wall float64
	for _, r := range res.Runs {
		first += r.FirstView
		dcl += r.DomContentLoaded
		load += r.Load
		wall += r.Wall
	}
	n := float64(b.N)
	b.ReportMetric(wall/n*1e6, "ns/op")
	b.ReportMetric(first/n, "ms/op")
	b.ReportMetric(dcl/n, "dcl-ms/op")
	b.ReportMetric(load/n, "load-ms/op")
}
