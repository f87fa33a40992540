package registry

import (
	"github.com/humstack/humstack/api"
)

// Security groups (api/securitygroup.go): rules are checked on their own;
// whether a remote group exists is the agent's concern (a rule naming a
// missing group matches no peer), since groups may be applied in any order.

var securityGroupStrategy = &typed[api.SecurityGroupSpec, api.SecurityGroupStatus]{
	defaults: defaultSecurityGroup,
	validate: validateSecurityGroup,
}

// maxRules bounds a group's rules: each is a line of every NIC's chain.
const maxRules = 256

func defaultSecurityGroup(g *api.SecurityGroup) {
	for i := range g.Spec.Rules {
		if g.Spec.Rules[i].Protocol == "" {
			g.Spec.Rules[i].Protocol = api.ProtocolAll
		}
	}
}

func validateSecurityGroup(g *api.SecurityGroup, fe *api.FieldErrors) {
	if len(g.Spec.Rules) > maxRules {
		fe.Add("spec.rules", "has %d rules, more than %d", len(g.Spec.Rules), maxRules)
		return
	}
	for i, r := range g.Spec.Rules {
		f := indexField("spec.rules", i)
		checkOneOf(fe, f+".direction", r.Direction, api.DirectionIngress, api.DirectionEgress)
		checkOneOf(fe, f+".protocol", r.Protocol, api.ProtocolTCP, api.ProtocolUDP, api.ProtocolICMP, api.ProtocolAll)
		if r.Ports != "" {
			if r.Protocol != api.ProtocolTCP && r.Protocol != api.ProtocolUDP {
				fe.Add(f+".ports", "ports need protocol tcp or udp, not %s", quote(r.Protocol))
			} else if _, err := api.ParsePortRange(r.Ports); err != nil {
				fe.Add(f+".ports", "%v", err)
			}
		}
		if r.RemoteCIDR != "" {
			requireIPv4Network(fe, f+".remoteCIDR", r.RemoteCIDR)
		}
		if r.RemoteSecurityGroupID != "" {
			checkID(fe, f+".remoteSecurityGroupID", r.RemoteSecurityGroupID)
			if r.RemoteCIDR != "" {
				fe.Add(f+".remoteSecurityGroupID", "give remoteCIDR or remoteSecurityGroupID, not both")
			}
		}
	}
}
