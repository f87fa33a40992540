package vm_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/lab"
	"github.com/humstack/humstack/internal/lab/guest/tiny"
	"github.com/humstack/humstack/internal/testenv"
)

// BenchmarkVMStart measures, in a lab with the network available and the
// disk Active on node-b, the time from creating a VM to its QEMU running
// (status Running: the agent saw the object, wrote the seed, made the tap
// and started QEMU) and to the tiny guest answering ping under TCG. The
// VM is deleted (and gone) between iterations.
func BenchmarkVMStart(b *testing.B) {
	testenv.RequireCommands(b, append([]string{"qemu-system-x86_64"}, tiny.RequiredCommands...)...)
	v := upVMLabTB(b, imageFor(b, tinyImage))
	v.applyTB(b, v.seedYAML("tester", "256M", 1))
	if err := v.WaitState(context.Background(), "virtualmachine", sc, "vm1", "Running", 3*time.Minute); err != nil {
		b.Fatal(err)
	}
	vms := client.For[*api.VirtualMachine](v.Client())
	template, err := vms.Get(context.Background(), sc, "vm1")
	if err != nil {
		b.Fatal(err)
	}
	pingCtx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := lab.Ping(pingCtx, v.NS("node-b"), guestAddr); err != nil {
		b.Fatal(err)
	}
	deleteVM(b, v, "vm1")
	var running, ping time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		vm := &api.VirtualMachine{Meta: api.Meta{APIType: template.Meta.APIType, ID: fmt.Sprintf("bench%d", i), Group: "g", Namespace: "ns",
			Annotations: template.Meta.Annotations}, Spec: template.Spec}
		start := time.Now()
		if _, err := vms.Create(context.Background(), vm); err != nil {
			b.Fatal(err)
		}
		for {
			got, err := vms.Get(context.Background(), sc, vm.Meta.ID)
			if err == nil && got.Status.State == "Running" {
				break
			}
			if time.Since(start) > time.Minute {
				b.Fatalf("not Running after a minute: %+v", got.Status)
			}
			time.Sleep(5 * time.Millisecond)
		}
		running += time.Since(start)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if err := lab.Ping(ctx, v.NS("node-b"), guestAddr); err != nil {
			b.Fatal(err)
		}
		cancel()
		ping += time.Since(start)
		b.StopTimer()
		deleteVM(b, v, vm.Meta.ID)
		b.StartTimer()
	}
	b.ReportMetric(float64(running.Milliseconds())/float64(b.N), "ms-to-running")
	b.ReportMetric(float64(ping.Milliseconds())/float64(b.N), "ms-to-ping")
}

func deleteVM(b testing.TB, v *vmLab, id string) {
	vms := client.For[*api.VirtualMachine](v.Client())
	if _, err := vms.Delete(context.Background(), sc, id, client.DeleteOptions{}); err != nil {
		b.Fatal(err)
	}
	testenv.Eventually(b, time.Minute, func() (bool, string) {
		_, err := vms.Get(context.Background(), sc, id)
		return err != nil, id + " not deleted"
	})
}
