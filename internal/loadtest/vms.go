package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	gojson "github.com/goccy/go-json"

	"github.com/humstack/humstack/api"
)

// The scenarios' objects: VMs shaped like internal/apiserver's in-process
// benchmarks' (newVM), in one namespace made first.
const (
	Group     = "bench"
	Namespace = "ns"
)

var (
	vmsPath = "/api/v0/groups/" + Group + "/namespaces/" + Namespace + "/" + api.VirtualMachineKind.Plural
	// MaxVMs bounds VM numbers: each has an IPv4 address of its own in
	// 10.0.0.0/8 (the server refuses a second holder of an address).
	MaxVMs = 1<<24 - 2
)

// Tenancy creates the group and the namespace of the VMs.
func (c *Client) Tenancy(ctx context.Context) error {
	g := api.GroupKind.New()
	g.GetMeta().ID = Group
	ns := api.NamespaceKind.New()
	ns.GetMeta().ID, ns.GetMeta().Group = Namespace, Group
	if err := c.create(ctx, "/api/v0/groups", g); err != nil {
		return err
	}
	return c.create(ctx, "/api/v0/groups/"+Group+"/namespaces", ns)
}

func (c *Client) create(ctx context.Context, path string, o api.Object) error {
	b, err := json.Marshal(o)
	if err != nil {
		return err
	}
	return c.Do(ctx, http.MethodPost, path, b, http.StatusCreated)
}

// VMBody is the JSON of VM number i (0 <= i <= MaxVMs); a generation gen > 0
// adds the label rev=<gen>, which makes an update a change.
func VMBody(i, gen int) []byte {
	vm := api.VirtualMachineKind.New().(*api.VirtualMachine)
	vm.Meta.ID, vm.Meta.Group, vm.Meta.Namespace = vmID(i), Group, Namespace
	vm.Meta.Annotations = map[string]string{api.AnnotationVirtualMachineNode: "worker1"}
	if gen > 0 {
		vm.Meta.Labels = map[string]string{"rev": strconv.Itoa(gen)}
	}
	n := i + 1 // 10.0.0.1 first
	vm.Spec = api.VirtualMachineSpec{
		RequestVcpus: "1000m", LimitVcpus: "1000m", RequestMemory: "1G", LimitMemory: "1G",
		BlockStorageIDs: []string{"bs1"}, ActionState: api.ActionPowerOn,
		NICs: []api.VMNIC{{NetworkID: "net1", IPv4Address: fmt.Sprintf("10.%d.%d.%d", n>>16&255, n>>8&255, n&255),
			Nameservers: []string{"8.8.8.8"}, DefaultGateway: "10.0.0.254"}},
	}
	b, err := json.Marshal(vm)
	if err != nil {
		panic(err) // a fixed shape of plain values
	}
	return b
}

func vmID(i int) string { return "vm" + strconv.Itoa(i) }

// CreateVM creates VM number i.
func (c *Client) CreateVM(ctx context.Context, i int) error {
	return c.Do(ctx, http.MethodPost, vmsPath, VMBody(i, 0), http.StatusCreated)
}

// UpdateVM replaces VM number i's meta and spec (no resourceVersion: the
// update applies on top of what is stored) with generation gen.
func (c *Client) UpdateVM(ctx context.Context, i, gen int) error {
	return c.Do(ctx, http.MethodPut, vmsPath+"/"+vmID(i), VMBody(i, gen), http.StatusOK)
}

// GetVM reads VM number i.
func (c *Client) GetVM(ctx context.Context, i int) error {
	return c.Do(ctx, http.MethodGet, vmsPath+"/"+vmID(i), nil, http.StatusOK)
}

// ListVMs lists the namespace's VMs into buf and returns how many the
// answer holds (counted after the answer is read, so not in its time).
func (c *Client) ListVMs(ctx context.Context, buf *bytes.Buffer) (int, error) {
	if err := c.Read(ctx, vmsPath, buf); err != nil {
		return 0, err
	}
	return countItems(buf.Bytes())
}

// countItems counts the list envelope's items ({"data": {"<plural>":
// [...]}, "resourceVersion": "R"}), decoding each into nothing.
func countItems(b []byte) (int, error) {
	var l struct {
		Data            map[string][]struct{} `json:"data"`
		ResourceVersion string                `json:"resourceVersion"`
	}
	if err := gojson.Unmarshal(b, &l); err != nil {
		return 0, fmt.Errorf("decode list: %w", err)
	}
	if l.ResourceVersion == "" {
		return 0, fmt.Errorf("list without resourceVersion")
	}
	items, ok := l.Data[api.VirtualMachineKind.Plural]
	if !ok {
		return 0, fmt.Errorf("list without data.%s", api.VirtualMachineKind.Plural)
	}
	return len(items), nil
}
