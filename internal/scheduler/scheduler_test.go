package scheduler

import (
	"fmt"
	"testing"

	"github.com/humstack/humstack/api"
)

const gi = int64(1) << 30

func node(name string, cpu, memG int64, used ...int64) *Node {
	n := &Node{Name: name, Ready: true, Accelerator: "tcg",
		Allocatable: api.Amounts{MilliCPU: cpu * 1000, Memory: memG * gi, Storage: -1}}
	if len(used) == 2 {
		n.Used = api.Amounts{MilliCPU: used[0] * 1000, Memory: used[1] * gi}
	}
	return n
}

func vmReq(cpu, memG int64) *Request {
	return &Request{Key: "virtualmachine/g/ns/vm", Amounts: api.Amounts{MilliCPU: cpu * 1000, Memory: memG * gi}}
}

func TestPolicies(t *testing.T) {
	nodes := []*Node{node("a", 8, 16, 4, 8), node("b", 8, 16, 1, 2), node("c", 8, 16, 6, 12)}
	if d := Decide(nodes, vmReq(1, 2), Spread); d.Node != "b" {
		t.Errorf("spread chose %q, want the least allocated b", d.Node)
	}
	if d := Decide(nodes, vmReq(1, 2), Pack); d.Node != "c" {
		t.Errorf("pack chose %q, want the most allocated c", d.Node)
	}
}

func TestTieBreakIsTheNodeName(t *testing.T) {
	nodes := []*Node{node("n3", 4, 8), node("n1", 4, 8), node("n2", 4, 8)}
	for _, p := range []Policy{Spread, Pack} {
		if d := Decide(nodes, vmReq(1, 1), p); d.Node != "n1" {
			t.Errorf("%s: chose %q, want n1", p, d.Node)
		}
	}
}

func TestNothingFitsSaysWhyPerNode(t *testing.T) {
	nodes := []*Node{node("a", 8, 4, 0, 2), node("b", 8, 4, 0, 3), node("c", 8, 4, 0, 2),
		node("d", 8, 16), node("e", 8, 16)}
	nodes[1].Used.Memory = 2*gi + gi/2 // 1.5G free
	nodes[3].Unschedulable = true
	nodes[4].Ready = false
	d := Decide(nodes, vmReq(1, 4), Spread)
	want := "0/5 nodes fit: 3 insufficient memory (needs 4G, free 2G), 1 NotReady, 1 cordoned"
	if d.Node != "" || d.Message != want {
		t.Fatalf("got node %q message %q, want %q", d.Node, d.Message, want)
	}
	if got := d.Reasons["b"]; got != "insufficient memory (needs 4G, free 1.5G)" {
		t.Errorf("reason of b: %q", got)
	}
}

// TestSummaryNamesOnlyWhatIsShort: a resource a node does not limit is
// never said to be short in the summary.
func TestSummaryNamesOnlyWhatIsShort(t *testing.T) {
	n := node("a", 8, 4, 0, 4)
	r := vmReq(1, 1)
	r.Amounts.Storage = 64 << 20
	d := Decide([]*Node{n}, r, Spread)
	if want := "0/1 nodes fit: 1 insufficient memory (needs 1G, free 0)"; d.Message != want {
		t.Fatalf("got %q, want %q", d.Message, want)
	}
}

func TestFilters(t *testing.T) {
	peers := []Peer{{Key: "virtualmachine/g/ns/web1", Node: "a", Labels: map[string]string{"app": "web"}},
		{Key: "virtualmachine/g/ns/db1", Node: "b", Labels: map[string]string{"app": "db"}}}
	cases := []struct {
		name string
		edit func(ns []*Node, r *Request)
		want string // chosen node, or the message
	}{
		{"kvm", func(ns []*Node, r *Request) { r.KVM = true; ns[2].Accelerator = "kvm" }, "c"},
		{"core only", func(ns []*Node, r *Request) { ns[1].CoreOnly = true }, "a"},
		{"core only everywhere", func(ns []*Node, r *Request) {
			for _, n := range ns {
				n.CoreOnly = true
			}
		}, "0/3 nodes fit: 3 agentMode Core"},
		{"kvm nowhere", func(ns []*Node, r *Request) { r.KVM = true }, "0/3 nodes fit: 3 no kvm accelerator (node runs tcg)"},
		{"selector", func(ns []*Node, r *Request) {
			r.Selector = map[string]string{"rack": "b"}
			ns[1].Labels = map[string]string{"rack": "b", "x": "y"}
		}, "b"},
		{"bridge", func(ns []*Node, r *Request) {
			r.Bridge = "exBr"
			ns[0].Bridges, ns[1].Bridges, ns[2].Bridges = []string{}, []string{"other"}, []string{"exBr"}
		}, "c"},
		{"bridge unknown passes", func(ns []*Node, r *Request) { r.Bridge = "exBr"; ns[0].Bridges = []string{} }, "b"},
		{"pinned", func(ns []*Node, r *Request) { r.Pinned, r.PinnedBy = "c", "disk ns/d1 is on c" }, "c"},
		{"pinned where nothing fits", func(ns []*Node, r *Request) {
			r.Pinned, r.PinnedBy = "c", "disk ns/d1 is on c"
			ns[2].Unschedulable = true
		}, "0/3 nodes fit: 2 disk ns/d1 is on c, 1 cordoned"},
		{"anti-affinity", func(ns []*Node, r *Request) {
			r.Peers, r.AntiAffinity = peers, map[string]string{"app": "web"}
			ns[0].Used = api.Amounts{} // a would win on balance
		}, "b"},
		{"affinity", func(ns []*Node, r *Request) { r.Peers, r.Affinity = peers, map[string]string{"app": "db"} }, "b"},
		{"affinity with no peer yet", func(ns []*Node, r *Request) { r.Peers, r.Affinity = peers, map[string]string{"app": "cache"} }, "b"},
		{"image cache", func(ns []*Node, r *Request) {
			r.Images = []string{"g/img1"}
			ns[2].Images = map[string]bool{"g/img1": true}
		}, "c"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ns := []*Node{node("a", 8, 16, 2, 4), node("b", 8, 16, 1, 2), node("c", 8, 16, 2, 4)}
			r := vmReq(1, 1)
			c.edit(ns, r)
			d := Decide(ns, r, Spread)
			if got := d.Node + d.Message; got != c.want {
				t.Errorf("got %q, want %q (reasons %v)", got, c.want, d.Reasons)
			}
		})
	}
}

func TestUnlimitedNodesFit(t *testing.T) {
	n := &Node{Name: "a", Ready: true, Allocatable: api.Amounts{MilliCPU: -1, Memory: -1, Storage: -1}}
	if d := Decide([]*Node{n}, vmReq(64, 512), Spread); d.Node != "a" {
		t.Fatalf("a node without limits refused: %+v", d)
	}
	if d := Decide(nil, vmReq(1, 1), Spread); d.Message != "no nodes are registered" {
		t.Fatalf("no nodes: %+v", d)
	}
}

func TestParseLabels(t *testing.T) {
	sel, err := ParseLabels(" rack=a , gpu=yes,")
	if err != nil || FormatLabels(sel) != "gpu=yes,rack=a" {
		t.Fatalf("got %v %v", sel, err)
	}
	if _, err := ParseLabels("rack"); err == nil {
		t.Fatal("rack without a value accepted")
	}
}

// BenchmarkDecide is one decision over 1,000 nodes.
func BenchmarkDecide(b *testing.B) {
	nodes := make([]*Node, 1000)
	for i := range nodes {
		nodes[i] = node(fmt.Sprintf("node-%04d", i), 32, 128, int64(i%32), int64(i%128))
	}
	r := vmReq(2, 4)
	b.ReportAllocs()
	for b.Loop() {
		if Decide(nodes, r, Spread).Node == "" {
			b.Fatal("no node")
		}
	}
}
