package apiserver_test

import (
	"errors"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
)

// TestConcurrentIncrementsLoseNothing: 8 writers x 50 read-modify-write
// increments with 409-retry end at exactly 400.
func TestConcurrentIncrementsLoseNothing(t *testing.T) {
	e := newEnv(t)
	e.tenancy("g")
	groups := client.For[*api.Group](e.c)
	var wg sync.WaitGroup
	var conflicts atomic.Int64
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				for {
					g, err := groups.Get(ctx(t), client.Scope{}, "g")
					if err != nil {
						t.Error(err)
						return
					}
					n, _ := strconv.Atoi(g.Meta.Labels["counter"])
					if g.Meta.Labels == nil {
						g.Meta.Labels = map[string]string{}
					}
					g.Meta.Labels["counter"] = strconv.Itoa(n + 1)
					_, err = groups.Update(ctx(t), g)
					if errors.Is(err, api.ErrConflict) {
						conflicts.Add(1)
						continue
					}
					if err != nil {
						t.Error(err)
						return
					}
					break
				}
			}
		}()
	}
	wg.Wait()
	g, err := groups.Get(ctx(t), client.Scope{}, "g")
	if err != nil {
		t.Fatal(err)
	}
	if g.Meta.Labels["counter"] != "400" {
		t.Fatalf("counter = %s, want 400", g.Meta.Labels["counter"])
	}
	t.Logf("400 increments, %d conflicts retried", conflicts.Load())
}

// TestRacingCreatesOneWins: 16 racing creates of one id give exactly one 201.
func TestRacingCreatesOneWins(t *testing.T) {
	e := newEnv(t)
	var wg sync.WaitGroup
	codes := make(chan int, 16)
	start := make(chan struct{})
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			status, _ := e.do(http.MethodPost, "/api/v0/groups", "", `{"meta":{"apiType":"corev0/group","id":"race"}}`)
			codes <- status
		}()
	}
	close(start)
	wg.Wait()
	close(codes)
	count := map[int]int{}
	for c := range codes {
		count[c]++
	}
	if count[http.StatusCreated] != 1 || count[http.StatusConflict] != 15 {
		t.Fatalf("status counts %v, want one 201 and fifteen 409", count)
	}
}

// TestScopeIsolation: g never sees g1, ns never sees nsx.
func TestScopeIsolation(t *testing.T) {
	e := newEnv(t)
	e.tenancy("g", "ns", "nsx")
	e.tenancy("g1", "ns")
	for _, s := range [][2]string{{"g", "ns"}, {"g", "nsx"}, {"g1", "ns"}} {
		e.mustCreate(network(s[0], s[1], "net-"+s[0]+"-"+s[1]))
	}
	e.mustCreate("meta: {apiType: systemv0/image, id: img, group: g1}\nspec: {entityMap: {latest: e1}}")
	cases := []struct {
		kind *api.Kind
		sc   client.Scope
		want []string
	}{
		{api.NetworkKind, client.Scope{Group: "g", Namespace: "ns"}, []string{"net-g-ns"}},
		{api.NetworkKind, client.Scope{Group: "g", Namespace: "nsx"}, []string{"net-g-nsx"}},
		{api.NetworkKind, client.Scope{Group: "g"}, []string{"net-g-ns", "net-g-nsx"}},
		{api.NetworkKind, client.Scope{Group: "g1"}, []string{"net-g1-ns"}},
		{api.NetworkKind, client.Scope{}, []string{"net-g-ns", "net-g-nsx", "net-g1-ns"}},
		{api.NamespaceKind, client.Scope{Group: "g"}, []string{"ns", "nsx"}},
		{api.ImageKind, client.Scope{Group: "g"}, nil},
		{api.ImageKind, client.Scope{Group: "g1"}, []string{"img"}},
	}
	for _, c := range cases {
		objs, _, err := e.c.List(ctx(t), c.kind, c.sc)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, o := range objs {
			got = append(got, o.GetMeta().ID)
		}
		if strconv.Quote(join(got)) != strconv.Quote(join(c.want)) {
			t.Errorf("list %s in %+v = %v, want %v", c.kind.Plural, c.sc, got, c.want)
		}
	}
}

func join(s []string) string {
	out := ""
	for _, x := range s {
		out += x + ","
	}
	return out
}
