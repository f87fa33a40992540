package registry

import (
	"time"

	"github.com/humstack/humstack/api"
)

// Leases are written by agents only (leader election); the rules keep a
// hand-made one sane.
var leaseStrategy = &typed[api.LeaseSpec, api.Empty]{
	validate: validateLease,
}

func validateLease(l *api.Lease, fe *api.FieldErrors) {
	if h := l.Spec.HolderIdentity; h != "" && !api.IsID(h) {
		fe.Add("spec.holderIdentity", "%s is not a node name", quote(h))
	}
	if d := l.Spec.LeaseDurationSeconds; d < 0 || d > 3600 {
		fe.Add("spec.leaseDurationSeconds", "%d is out of range 0-3600", d)
	}
	if l.Spec.LeaseTransitions < 0 {
		fe.Add("spec.leaseTransitions", "%d is negative", l.Spec.LeaseTransitions)
	}
	checkTime(fe, "spec.acquireTime", l.Spec.AcquireTime)
	checkTime(fe, "spec.renewTime", l.Spec.RenewTime)
}

func checkTime(fe *api.FieldErrors, field, v string) {
	if _, err := time.Parse(time.RFC3339Nano, v); v != "" && err != nil {
		fe.Add(field, "%s is not an RFC 3339 time", quote(v))
	}
}
