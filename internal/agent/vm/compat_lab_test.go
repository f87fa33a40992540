package vm_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/humstack/humstack/internal/host/qemu"
	"github.com/humstack/humstack/internal/lab"
	"github.com/humstack/humstack/internal/lab/guest/tiny"
	"github.com/humstack/humstack/internal/testenv"
)

// TestLabFixedMACAndUUID boots the tiny guest with the original humstack's
// spec.uuid and nics[].macAddress (a universally administered MAC of
// digits only, written unquoted as a user would): the guest's NIC has that
// MAC, its network-config matched it (the guest answers on its static
// address), status reports it, and the running QEMU has the UUID.
func TestLabFixedMACAndUUID(t *testing.T) {
	testenv.RequireCommands(t, append([]string{"qemu-system-x86_64"}, tiny.RequiredCommands...)...)
	const mac, uuid = "10:20:30:40:50:60", "5f0c1a2e-8b4d-4c6e-9f3a-1b2c3d4e5f60"
	v := upVMLab(t, imageFor(t, tinyImage))
	y := v.seedYAML("tester", "256M", 1)
	y = strings.Replace(y, "  hostname: labvm\n", "  hostname: labvm\n  uuid: "+uuid+"\n", 1)
	y = strings.Replace(y, "    - networkID: net1\n", "    - networkID: net1\n      macAddress: "+mac+"\n", 1)
	if !strings.Contains(y, "macAddress") || !strings.Contains(y, "uuid:") {
		t.Fatalf("seed YAML not adapted:\n%s", y)
	}
	start := time.Now()
	v.apply(t, y)
	vm := v.waitVM(t, "Running", 3*time.Minute)
	if len(vm.Status.NICs) != 1 || vm.Status.NICs[0].MAC != mac {
		t.Fatalf("status.nics %+v, want MAC %s", vm.Status.NICs, mac)
	}
	v.login(t, "tester", 2*time.Minute)
	t.Logf("apply to SSH login: %v", time.Since(start).Round(time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := lab.SSH(ctx, v.NS("node-b"), guestAddr, "tester", v.signer, "cat /sys/class/net/eth0/address")
	if err != nil || strings.TrimSpace(out) != mac {
		t.Fatalf("guest eth0 address %q (%v), want %s", out, err, mac)
	}
	dirs, _ := filepath.Glob(filepath.Join(v.Dir(), "node-b", "vms", "vm-*"))
	if len(dirs) != 1 {
		t.Fatalf("VM directories %v", dirs)
	}
	q, err := qemu.DialQMP(ctx, dirs[0])
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	var got struct {
		UUID string `json:"UUID"`
	}
	if err := q.Run(ctx, "query-uuid", nil, &got); err != nil || got.UUID != uuid {
		t.Fatalf("QEMU's UUID %q (%v), want %s", got.UUID, err, uuid)
	}
}
