package registry

import (
	"maps"
	"slices"

	"github.com/humstack/humstack/api"
)

// quotaStrategyV is the quota kind's strategy.
var quotaStrategyV = quotaStatusByServer{quotaStrategy}

// quotaStrategy checks a quota's limits. Its status is the API server's
// ledger (internal/apiserver/admit_quota.go): clients cannot write it
// (no /status route: StatusOwner), and an update keeps it.
var quotaStrategy = &typed[api.QuotaSpec, api.QuotaStatus]{
	validate: validateQuota,
	immutable: []immutable[api.QuotaSpec, api.QuotaStatus]{
		// The ledger counts the objects of one scope; another scope would
		// need another count: make another quota.
		{"spec.namespace", func(q *api.Quota) any { return q.Spec.Namespace }},
	},
}

func validateQuota(q *api.Quota, fe *api.FieldErrors) {
	if q.Spec.Namespace != "" {
		checkID(fe, "spec.namespace", q.Spec.Namespace)
	}
	validateQuotaResources(fe, "spec.hard", q.Spec.Hard)
	validateQuotaResources(fe, "status.used", q.Status.Used)
	checkOneOf(fe, "status.state", q.Status.State, "", api.QuotaActive, api.QuotaExceeded)
	for _, key := range slices.Sorted(maps.Keys(q.Status.Entries)) {
		if e := q.Status.Entries[key]; e.MilliCPU < 0 || e.Memory < 0 || e.Storage < 0 {
			fe.Add(keyField("status.entries", key), "amounts may not be negative")
		}
	}
}

// validateQuotaResources checks each amount given; absent ones are
// unlimited (spec) or not shown (status).
func validateQuotaResources(fe *api.FieldErrors, field string, r api.QuotaResources) {
	if r.VCPUs != "" {
		if _, err := api.ParseQuotaCPU(r.VCPUs); err != nil {
			fe.Add(field+".vcpus", "%v", err)
		}
	}
	for _, s := range []struct{ name, v string }{{"memory", r.Memory}, {"disk", r.Disk}} {
		if s.v != "" {
			if _, err := api.ParseSize(s.v); err != nil {
				fe.Add(field+"."+s.name, "%v", err)
			}
		}
	}
	counts := []struct {
		name string
		v    *int64
	}{
		{"virtualmachines", r.VirtualMachines}, {"blockstorages", r.BlockStorages}, {"networks", r.Networks},
		{"virtualrouters", r.VirtualRouters}, {"externalips", r.ExternalIPs},
	}
	for _, c := range counts {
		if c.v != nil && *c.v < 0 {
			fe.Add(field+"."+c.name, "%d is negative (want a count, 0 or more)", *c.v)
		}
	}
}

// ServerStatus is implemented by the strategies of kinds whose status the
// API server alone writes: they have no /status route.
type ServerStatus interface {
	StatusByServer()
}

// quotaStatusByServer marks the quota strategy as ServerStatus.
type quotaStatusByServer struct {
	*typed[api.QuotaSpec, api.QuotaStatus]
}

func (quotaStatusByServer) StatusByServer() {}
