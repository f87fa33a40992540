package placement

import (
	"slices"
	"testing"

	"github.com/humstack/humstack/api"
)

func node(cpu, mem string, res map[string]api.Reservation) *api.Node {
	n := api.NodeKind.New().(*api.Node)
	n.Meta.ID = "n1"
	n.Spec.LimitVcpus, n.Spec.LimitMemory = cpu, mem
	a := Allocatable(Limits(n), DefaultRatios)
	n.Status.Allocatable = &a
	n.Status.Reservations = res
	return n
}

func TestFit(t *testing.T) {
	n := node("2000m", "4G", map[string]api.Reservation{
		"virtualmachine/g/ns/a": {Amounts: api.Amounts{MilliCPU: 1000, Memory: 3 << 30}},
	})
	cases := []struct {
		name string
		key  string
		req  api.Amounts
		want string
	}{
		{"fits", "virtualmachine/g/ns/b", api.Amounts{MilliCPU: 1000, Memory: 1 << 30}, ""},
		{"memory", "virtualmachine/g/ns/b", api.Amounts{MilliCPU: 1000, Memory: 2 << 30},
			"insufficient memory (needs 2G, free 1G)"},
		{"cpu overcommitted 4x", "virtualmachine/g/ns/b", api.Amounts{MilliCPU: 7500},
			"insufficient cpu (needs 7.5, free 7)"},
		{"own reservation does not count", "virtualmachine/g/ns/a", api.Amounts{MilliCPU: 1000, Memory: 4 << 30}, ""},
		{"storage unknown: not enforced", "blockstorage/g/ns/d", api.Amounts{Storage: 1 << 40}, ""},
	}
	for _, c := range cases {
		if got := Fit(n, c.key, c.req); got != c.want {
			t.Errorf("%s: Fit = %q, want %q", c.name, got, c.want)
		}
	}
}

func TestRequestAndNodeOf(t *testing.T) {
	vm := api.VirtualMachineKind.New().(*api.VirtualMachine)
	vm.Spec.RequestVcpus, vm.Spec.RequestMemory = "1500m", "512M"
	vm.Meta.Annotations = map[string]string{api.AnnotationVirtualMachineNode: "x"}
	if got := Request(vm); got != (api.Amounts{MilliCPU: 1500, Memory: 512 << 20}) {
		t.Errorf("Request(vm) = %+v", got)
	}
	if NodeOf(vm) != "x" {
		t.Errorf("NodeOf(vm) = %q", NodeOf(vm))
	}
	bs := api.BlockStorageKind.New().(*api.BlockStorage)
	bs.Spec.RequestSize = "1G"
	if got := Request(bs); got != (api.Amounts{Storage: 1 << 30}) {
		t.Errorf("Request(bs) = %+v", got)
	}
	if NodeOf(bs) != "" {
		t.Errorf("unplaced disk NodeOf = %q", NodeOf(bs))
	}
}

func TestFormatCPU(t *testing.T) {
	for in, want := range map[int64]string{2000: "2", 1500: "1.5", 250: "0.25", 0: "0"} {
		if got := FormatCPU(in); got != want {
			t.Errorf("FormatCPU(%d) = %q, want %q", in, got, want)
		}
	}
}

// TestHeldDuringAMigration: a placed object is held on its node, and on
// its migration's other node while the migration runs.
func TestHeldDuringAMigration(t *testing.T) {
	vm := api.VirtualMachineKind.New().(*api.VirtualMachine)
	if h := Held(vm); h != nil {
		t.Errorf("unplaced: held on %v", h)
	}
	vm.Meta.Annotations = map[string]string{api.AnnotationVirtualMachineNode: "n1"}
	if h := Held(vm); !slices.Equal(h, []string{"n1"}) {
		t.Errorf("placed: held on %v", h)
	}
	vm.Meta.Annotations[api.AnnotationMigrationPeer] = "n2"
	if h := Held(vm); !slices.Equal(h, []string{"n1", "n2"}) {
		t.Errorf("migrating: held on %v", h)
	}
	vm.Meta.Annotations[api.AnnotationMigrationPeer] = "n1"
	if h := Held(vm); !slices.Equal(h, []string{"n1"}) {
		t.Errorf("peer = node: held on %v", h)
	}
}
