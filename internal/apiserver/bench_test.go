package apiserver_test

import (
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
)

// The benchmarks run the real stack in one process: HTTP over loopback, the
// generic handlers, validation and a bolt store in a temp dir with synced
// writes. Each reports ops/s and latency percentiles.

var scopeGNS = client.Scope{Group: "g", Namespace: "ns"}

func benchEnv(b *testing.B) (*env, client.Resource[*api.VirtualMachine]) {
	e := newEnv(b)
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256}}
	c, err := client.New(e.srv.URL, client.WithHTTPClient(hc))
	if err != nil {
		b.Fatal(err)
	}
	e.c = c
	e.tenancy("g", "ns")
	return e, client.For[*api.VirtualMachine](c)
}

func newVM(id string) *api.VirtualMachine {
	vm := api.VirtualMachineKind.New().(*api.VirtualMachine)
	vm.Meta.ID, vm.Meta.Group, vm.Meta.Namespace = id, "g", "ns"
	vm.Meta.Annotations = map[string]string{api.AnnotationVirtualMachineNode: "worker1"}
	vm.Spec = api.VirtualMachineSpec{
		RequestVcpus: "1000m", LimitVcpus: "1000m", RequestMemory: "1G", LimitMemory: "1G",
		BlockStorageIDs: []string{"bs1"}, ActionState: api.ActionPowerOn,
		NICs: []api.VMNIC{{NetworkID: "net1", IPv4Address: addrFor("g/ns/" + id), Nameservers: []string{"8.8.8.8"}, DefaultGateway: "10.0.0.254"}},
	}
	return vm
}

// addrFor gives each VM id of the package's tests an address of its own
// (the API server refuses a second holder of an address, ipam.go), the
// same on every call, so an update of a VM keeps it. net1 does not exist
// in these tests: any address is accepted.
func addrFor(id string) string {
	if a, ok := vmAddrs.Load(id); ok {
		return a.(string)
	}
	n := vmAddrCount.Add(1)
	a, _ := vmAddrs.LoadOrStore(id, fmt.Sprintf("10.%d.%d.%d", n>>16&255, n>>8&255, n&255))
	return a.(string)
}

var (
	vmAddrs     sync.Map
	vmAddrCount atomic.Int64
)

func seedVMs(b *testing.B, vms client.Resource[*api.VirtualMachine], prefix string, n int) {
	var next atomic.Int64
	runConcurrent(b, 16, n, func(int) error {
		_, err := vms.Create(b.Context(), newVM(fmt.Sprintf("%s%d", prefix, next.Add(1)-1)))
		return err
	})
}

// result is a run's sorted latencies and its wall time.
type result struct {
	lat  []time.Duration
	wall time.Duration
}

// runConcurrent runs op n times over c goroutines.
func runConcurrent(b *testing.B, c, n int, op func(i int) error) result {
	lat := make([][]time.Duration, c)
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < c; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				t0 := time.Now()
				if err := op(i); err != nil {
					b.Error(err)
					return
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	return result{all, wall}
}

func report(b *testing.B, r result) {
	lat, wall := r.lat, r.wall
	if len(lat) == 0 {
		return
	}
	pct := func(p float64) float64 {
		return float64(lat[int(float64(len(lat)-1)*p)]) / float64(time.Millisecond)
	}
	b.ReportMetric(float64(len(lat))/wall.Seconds(), "ops/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(0, "ns/op") // wall time per op is ops/s's inverse; hide the noise
}

var concurrencies = []int{1, 8, 64}

func BenchmarkCreate(b *testing.B) {
	for _, c := range concurrencies {
		b.Run(fmt.Sprintf("c=%d", c), func(b *testing.B) {
			_, vms := benchEnv(b)
			b.ResetTimer()
			report(b, runOps(b, c, func(i int) error {
				_, err := vms.Create(b.Context(), newVM(fmt.Sprintf("vm%d", i)))
				return err
			}))
		})
	}
}

func BenchmarkGet(b *testing.B) {
	for _, c := range concurrencies {
		b.Run(fmt.Sprintf("c=%d", c), func(b *testing.B) {
			_, vms := benchEnv(b)
			seedVMs(b, vms, "vm", 1000)
			b.ResetTimer()
			report(b, runOps(b, c, func(i int) error {
				_, err := vms.Get(b.Context(), scopeGNS, fmt.Sprintf("vm%d", i%1000))
				return err
			}))
		})
	}
}

func BenchmarkUpdate(b *testing.B) {
	for _, c := range concurrencies {
		b.Run(fmt.Sprintf("c=%d", c), func(b *testing.B) {
			_, vms := benchEnv(b)
			seedVMs(b, vms, "vm", 1000)
			b.ResetTimer()
			report(b, runOps(b, c, func(i int) error {
				vm := newVM(fmt.Sprintf("vm%d", i%1000))
				vm.Meta.Labels = map[string]string{"rev": fmt.Sprint(i)}
				_, err := vms.Update(b.Context(), vm)
				return err
			}))
		})
	}
}

// BenchmarkList lists a namespace of 100 VMs.
func BenchmarkList(b *testing.B) {
	for _, c := range concurrencies {
		b.Run(fmt.Sprintf("c=%d", c), func(b *testing.B) {
			_, vms := benchEnv(b)
			seedVMs(b, vms, "vm", 100)
			b.ResetTimer()
			report(b, runOps(b, c, func(int) error {
				l, _, err := vms.List(b.Context(), scopeGNS)
				if err == nil && len(l) != 100 {
					err = fmt.Errorf("listed %d", len(l))
				}
				return err
			}))
		})
	}
}

// BenchmarkList10k (at most 100 runs, whatever -benchtime says) lists 10,000 VMs, decoding them in the client as a
// caller would (the original humstack took 338 ms).
func BenchmarkList10k(b *testing.B) {
	_, vms := benchEnv(b)
	seedVMs(b, vms, "vm", 10000)
	b.ResetTimer()
	report(b, runConcurrent(b, 1, min(b.N, 100), func(int) error {
		l, _, err := vms.List(b.Context(), scopeGNS)
		if err == nil && len(l) != 10000 {
			err = fmt.Errorf("listed %d", len(l))
		}
		return err
	}))
}

func runOps(b *testing.B, c int, op func(i int) error) result {
	return runConcurrent(b, c, b.N, op)
}

// BenchmarkList10kServer is BenchmarkList10k without the client's decoding:
// the server's share (read the store, splice versions, send 10,000 objects).
func BenchmarkList10kServer(b *testing.B) {
	e, vms := benchEnv(b)
	seedVMs(b, vms, "vm", 10000)
	url := e.srv.URL + "/api/v0/groups/g/namespaces/ns/virtualmachines"
	b.ResetTimer()
	report(b, runConcurrent(b, 1, min(b.N, 100), func(int) error {
		resp, err := http.Get(url)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		n, err := io.Copy(io.Discard, resp.Body)
		if err == nil && n < 10000*300 {
			err = fmt.Errorf("short list: %d bytes", n)
		}
		return err
	}))
}

// BenchmarkIPAMAssign100 creates b.N VMs without an address, in batches
// of 100 concurrent creates on a fresh /24 each (each create gets the
// lowest free address, racing the others for it): ms per batch of 100,
// and the creates' latencies. The explicit variant names distinct
// addresses (reserved, not searched for): the cost of the ledger alone.
func BenchmarkIPAMAssign100(b *testing.B) {
	b.Run("assigned", func(b *testing.B) { benchAssign100(b, false) })
	b.Run("explicit", func(b *testing.B) { benchAssign100(b, true) })
}

func benchAssign100(b *testing.B, explicit bool) {
	e, vms := benchEnv(b)
	var all result
	batches := 0
	b.ResetTimer()
	for done := 0; done < b.N; done += 100 {
		n := min(100, b.N-done)
		b.StopTimer()
		net := fmt.Sprintf("pool%d", batches)
		e.mustCreate(network("g", "ns", net))
		b.StartTimer()
		r := runConcurrent(b, n, n, func(j int) error {
			vm := newVM(fmt.Sprintf("%s-vm%d", net, j))
			vm.Spec.NICs[0].NetworkID, vm.Spec.NICs[0].IPv4Address = net, ""
			if explicit {
				vm.Spec.NICs[0].IPv4Address = fmt.Sprintf("10.0.0.%d", j+1)
			}
			_, err := vms.Create(b.Context(), vm)
			return err
		})
		all.lat, all.wall = append(all.lat, r.lat...), all.wall+r.wall
		batches++
	}
	sort.Slice(all.lat, func(i, j int) bool { return all.lat[i] < all.lat[j] })
	report(b, all)
	b.ReportMetric(float64(all.wall)/float64(time.Millisecond)/float64(batches), "ms/100-creates")
}
