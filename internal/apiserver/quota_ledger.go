package apiserver

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/placement"
)

// A quota's ledger (api.QuotaStatus.Entries) holds one entry per object
// counted, keyed "kind/group/namespace/id@uid": the uid keeps two creates
// of one id apart (the loser's undo removes its own entry, never the
// winner's). What a quota uses is the sum of its entries: requests by
// placement.Request, and one object per entry of its kind.

// quotaCounted are the kinds a quota counts, in the order of quotaUsage's
// counts and of the names below.
var quotaCounted = []*api.Kind{
	api.VirtualMachineKind, api.BlockStorageKind, api.NetworkKind, api.VirtualRouterKind, api.ExternalIPKind,
}

// quotaCountNames are the spec.hard names of the counts.
var quotaCountNames = []string{"virtualmachines", "blockstorages", "networks", "virtualrouters", "externalips"}

// quotaUsage is a quota's limits or use: requests and object counts. In
// limits, -1 is unlimited.
type quotaUsage struct {
	amounts api.Amounts
	counts  [5]int64
}

// countIndex is the position of kind k in counts, -1 for kinds not counted.
func countIndex(k *api.Kind) int { return slices.Index(quotaCounted, k) }

// entryKey names obj's entry.
func entryKey(k *api.Kind, m *api.Meta) string { return placement.Key(k, m) + "@" + m.UID }

// parseEntryKey splits an entry key into its kind and object key and uid.
func parseEntryKey(key string) (k *api.Kind, objKey, uid string, ok bool) {
	objKey, uid, ok = strings.Cut(key, "@")
	name, _, _ := strings.Cut(objKey, "/")
	k, err := api.LookupKind(name)
	if !ok || err != nil || countIndex(k) < 0 {
		return nil, "", "", false
	}
	return k, objKey, uid, true
}

// usedOf sums a ledger.
func usedOf(entries map[string]api.QuotaEntry) quotaUsage {
	var u quotaUsage
	for key, e := range entries {
		u.amounts = placement.Add(u.amounts, e.Amounts())
		if k, _, _, ok := parseEntryKey(key); ok {
			u.counts[countIndex(k)]++
		}
	}
	return u
}

// hardOf parses a quota's limits (validated on write; what does not parse
// is unlimited).
func hardOf(r api.QuotaResources) quotaUsage {
	parse := func(s string, f func(string) (int64, error)) int64 {
		if s == "" {
			return -1
		}
		v, err := f(s)
		if err != nil {
			return -1
		}
		return v
	}
	h := quotaUsage{amounts: api.Amounts{
		MilliCPU: parse(r.VCPUs, api.ParseQuotaCPU),
		Memory:   parse(r.Memory, api.ParseSize),
		Storage:  parse(r.Disk, api.ParseSize),
	}}
	for i, p := range countsOf(&r) {
		h.counts[i] = -1
		if *p != nil {
			h.counts[i] = **p
		}
	}
	return h
}

// countsOf are pointers to r's counts, in quotaCounted order.
func countsOf(r *api.QuotaResources) [5]**int64 {
	return [5]**int64{&r.VirtualMachines, &r.BlockStorages, &r.Networks, &r.VirtualRouters, &r.ExternalIPs}
}

// quotaLine is one resource of a comparison: its name, the amounts, and
// how to show them.
type quotaLine struct {
	name              string
	used, need, limit int64
	show              func(int64) string
}

// lines pairs used, need and hard resource by resource.
func lines(used, need, hard quotaUsage) []quotaLine {
	ls := []quotaLine{
		{"vcpus", used.amounts.MilliCPU, need.amounts.MilliCPU, hard.amounts.MilliCPU, placement.FormatCPU},
		{"memory", used.amounts.Memory, need.amounts.Memory, hard.amounts.Memory, api.HumanSize},
		{"disk", used.amounts.Storage, need.amounts.Storage, hard.amounts.Storage, api.HumanSize},
	}
	for i, n := range quotaCountNames {
		ls = append(ls, quotaLine{n, used.counts[i], need.counts[i], hard.counts[i], itoa64})
	}
	return ls
}

func itoa64(v int64) string { return strconv.FormatInt(v, 10) }

// shortfall says what of need does not fit beside used under hard:
// "virtualmachines: used 10, requested 1, hard 10", "" when all fits.
// Only what grows is checked: a change that takes less is always allowed,
// even above a limit.
func shortfall(used, need, hard quotaUsage) string {
	var why []string
	for _, l := range lines(used, need, hard) {
		if l.limit >= 0 && l.need > 0 && l.used+l.need > l.limit {
			why = append(why, fmt.Sprintf("%s: used %s, requested %s, hard %s", l.name, l.show(l.used), l.show(l.need), l.show(l.limit)))
		}
	}
	return strings.Join(why, "; ")
}

// refreshQuota recomputes a quota's used, state and message from its ledger.
func refreshQuota(q *api.Quota) {
	used, hard := usedOf(q.Status.Entries), hardOf(q.Spec.Hard)
	var u api.QuotaResources
	var over []string
	for _, l := range lines(used, quotaUsage{}, hard) {
		if l.limit >= 0 && l.used > l.limit {
			over = append(over, fmt.Sprintf("%s: used %s, hard %s", l.name, l.show(l.used), l.show(l.limit)))
		}
	}
	set := func(hardV string, v string) string {
		if hardV == "" {
			return ""
		}
		return v
	}
	u.VCPUs = set(q.Spec.Hard.VCPUs, placement.FormatCPU(used.amounts.MilliCPU))
	u.Memory = set(q.Spec.Hard.Memory, exactSize(used.amounts.Memory))
	u.Disk = set(q.Spec.Hard.Disk, exactSize(used.amounts.Storage))
	hc, uc := countsOf(&q.Spec.Hard), countsOf(&u)
	for i := range hc {
		if *hc[i] != nil {
			v := used.counts[i]
			*uc[i] = &v
		}
	}
	q.Status.Used = u
	q.Status.State, q.Status.Message = api.QuotaActive, ""
	if len(over) > 0 {
		q.Status.State = api.QuotaExceeded
		q.Status.Message = "over its limits (" + strings.Join(over, "; ") +
			"): creates that need more are refused until enough is deleted"
	}
}

// exactSize writes bytes in the largest unit that divides them, so that
// status.used parses back to the exact sum ("16G", "1536M", "100").
func exactSize(b int64) string {
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"T", 1 << 40}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}} {
		if b != 0 && b%u.mult == 0 {
			return itoa64(b/u.mult) + u.suffix
		}
	}
	return itoa64(b)
}

// quotaScope names a quota's scope in messages: "namespace ns1", "group g".
func quotaScope(q *api.Quota) string {
	if q.Spec.Namespace != "" {
		return "namespace " + q.Spec.Namespace
	}
	return "group " + q.Meta.Group
}

// covers reports whether quota q counts objects in m's scope.
func covers(q *api.Quota, m *api.Meta) bool {
	return q.Meta.Group == m.Group && (q.Spec.Namespace == "" || q.Spec.Namespace == m.Namespace)
}

// need is what obj takes of a quota: its requests and one object of its kind.
func need(k *api.Kind, obj api.Object) quotaUsage {
	u := quotaUsage{amounts: placement.Request(obj)}
	u.counts[countIndex(k)] = 1
	return u
}

// stamp is the time written in entries and countedAt.
func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// sortedEntryKeys are a ledger's keys in order (deterministic messages and writes).
func sortedEntryKeys(m map[string]api.QuotaEntry) []string { return slices.Sorted(maps.Keys(m)) }
