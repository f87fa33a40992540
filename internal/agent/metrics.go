package agent

import (
	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/agent/metrics"
	"github.com/humstack/humstack/internal/agent/node"
	"github.com/humstack/humstack/internal/agent/storage"
	"github.com/humstack/humstack/internal/agent/system"
	"github.com/humstack/humstack/internal/agent/vm"
	"github.com/humstack/humstack/internal/controller"
)

// addSystemMetrics adds what a System agent measures beyond its
// controllers: the node's capacity and allocation, its disks and image
// cache, and its VMs. The informers are the ones the node and its
// controllers already share (same filter), so this costs no extra watch.
func addSystemMetrics(met *metrics.Agent, m *controller.Manager, cfg Config, self *node.Agent, disks *storage.Driver, vms *vm.Driver) {
	placed := func(k *api.Kind) func() []api.Object {
		return m.Informer(k, system.FilterName(cfg.NodeName), system.PlacedOn(k, cfg.NodeName)).List
	}
	met.AddNode(self, metrics.Storage{
		Disks: placed(api.BlockStorageKind), DiskPath: disks.Path, ImageDir: cfg.BlockStorageAgentConfig.ImageDirPath,
	})
	met.AddVMs(metrics.VMOptions{VMs: placed(api.VirtualMachineKind), Procs: vms})
}
