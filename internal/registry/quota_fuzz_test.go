package registry

import (
	"strings"
	"testing"

	"github.com/humstack/humstack/api"
)

// FuzzQuotaValidate feeds arbitrary quota documents through the server's
// path (checkDocument: decode, default, validate, round trips) and checks
// the quota's own promises: every field error names a quota field, and a
// valid quota's limits are all ones the admitter parses (so validation and
// enforcement can never disagree about what a limit means).
func FuzzQuotaValidate(f *testing.F) {
	f.Add([]byte("meta: {apiType: corev0/quota, id: q1, group: g}\nspec: {namespace: ns1, hard: {vcpus: \"8\", memory: 16G, disk: 1T, virtualmachines: 10, blockstorages: 0, networks: 2, virtualrouters: 1, externalips: 3}}\n"))
	f.Add([]byte("meta: {apiType: corev0/quota, id: q1, group: g}\nspec: {hard: {vcpus: 500m, memory: \"0\"}}\nstatus: {state: Exceeded, used: {vcpus: \"0\"}}\n"))
	f.Add([]byte(`{"meta":{"apiType":"corev0/quota","id":"q1","group":"g"},"spec":{"hard":{"vcpus":"-1","memory":"lots","virtualmachines":-2}}}`))
	f.Add([]byte(`{"meta":{"apiType":"corev0/quota","id":"q1","group":"g"},"spec":{"hard":{}},"status":{"entries":{"virtualmachine/g/n/v@u":{"memory":-5}}}}`))
	// What humcli get -o yaml shows, to apply back: the ledger included.
	f.Add([]byte(`{"meta":{"apiType":"corev0/quota","id":"q1","group":"g"},"spec":{"hard":{"memory":"1G"}},"status":{"state":"Active","used":{"memory":"512M"},"entries":{"virtualmachine/g/n/v@u":{"milliCPU":1000,"memory":536870912,"since":"2026-01-01T00:00:00Z"}},"countedAt":"2026-01-01T00:00:00Z"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		obj, err := api.Decode(data)
		if err != nil {
			return
		}
		checkDocument(t, data)
		q, ok := obj.(*api.Quota)
		if !ok {
			return
		}
		s := For(api.QuotaKind)
		s.Default(q)
		fe := s.Validate(q)
		for _, e := range fe {
			if !strings.HasPrefix(e.Field, "spec.") && !strings.HasPrefix(e.Field, "status.") && !strings.HasPrefix(e.Field, "meta.") {
				t.Fatalf("field error outside the quota's fields: %v", e)
			}
		}
		if len(fe) > 0 {
			return
		}
		h := q.Spec.Hard
		if h.VCPUs != "" {
			if _, err := api.ParseQuotaCPU(h.VCPUs); err != nil {
				t.Fatalf("valid spec.hard.vcpus %q does not parse: %v", h.VCPUs, err)
			}
		}
		for _, v := range []string{h.Memory, h.Disk} {
			if _, err := api.ParseSize(v); v != "" && err != nil {
				t.Fatalf("valid size %q does not parse: %v", v, err)
			}
		}
		for _, c := range []*int64{h.VirtualMachines, h.BlockStorages, h.Networks, h.VirtualRouters, h.ExternalIPs} {
			if c != nil && *c < 0 {
				t.Fatalf("valid quota with a negative count %d", *c)
			}
		}
	})
}

// TestQuotaValidationNamesTheField: each bad limit is reported at its path.
func TestQuotaValidationNamesTheField(t *testing.T) {
	obj, err := api.Decode([]byte(`{"meta":{"apiType":"corev0/quota","id":"q1","group":"g"},"spec":{"namespace":"Bad_NS","hard":{"vcpus":"0m","memory":"lots","disk":"-1G","externalips":-1}}}`))
	if err != nil {
		t.Fatal(err)
	}
	fe := For(api.QuotaKind).Validate(obj)
	var fields []string
	for _, e := range fe {
		fields = append(fields, e.Field)
	}
	want := "spec.namespace spec.hard.vcpus spec.hard.memory spec.hard.disk spec.hard.externalips"
	if strings.Join(fields, " ") != want {
		t.Fatalf("fields %v, want %s (%v)", fields, want, fe.Err())
	}
	old := obj.(*api.Quota)
	moved := *old
	moved.Spec.Namespace = "ns2"
	if up := For(api.QuotaKind).ValidateUpdate(old, &moved); len(up) != 1 || up[0].Field != "spec.namespace" {
		t.Fatalf("a quota moved to another namespace: %v", up)
	}
}
