package registry

import (
	"fmt"
	"strings"
	"testing"

	"github.com/humstack/humstack/api"
)

// ruleCase is one valid or invalid variation of a base object.
type ruleCase struct {
	name   string
	base   string           // seed file name (without .yaml) or "node"
	mutate func(api.Object) // nil: the base as is
	field  string           // the field the error must name; "" = valid
}

// runRules applies each mutation to a fresh base, then Default and Validate
// as the API server does.
func runRules(t *testing.T, cases []ruleCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			obj := base(t, c.base)
			if c.mutate != nil {
				c.mutate(obj)
			}
			s := strategyOf(t, obj)
			s.Default(obj)
			expectField(t, s.Validate(obj), c.field)
		})
	}
}

// mt shortens the meta rows below.
type mt = api.Meta

// meta edits the meta of any kind.
func meta(f func(m *api.Meta)) func(api.Object) {
	return func(o api.Object) { f(o.GetMeta()) }
}

func TestValidateMeta(t *testing.T) {
	runRules(t, []ruleCase{
		{"valid", "group", nil, ""},
		{"id/missing", "group", meta(func(m *mt) { m.ID = "" }), "meta.id"},
		{"id/uppercase", "group", meta(func(m *mt) { m.ID = "Group1" }), "meta.id"},
		{"id/leading dash", "group", meta(func(m *mt) { m.ID = "-g" }), "meta.id"},
		{"id/path", "group", meta(func(m *mt) { m.ID = "../etc" }), "meta.id"},
		{"id/63 chars", "group", meta(func(m *mt) { m.ID = long(63) }), ""},
		{"id/64 chars", "group", meta(func(m *mt) { m.ID = long(64) }), "meta.id"},
		{"apiType/other kind", "group", meta(func(m *mt) { m.APIType = "corev0/namespace" }), "meta.apiType"},

		{"scope/cluster with group", "group", meta(func(m *mt) { m.Group = "g" }), "meta.group"},
		{"scope/cluster with namespace", "externalippool", meta(func(m *mt) { m.Namespace = "ns" }), "meta.namespace"},
		{"scope/namespace object needs group", "namespace", meta(func(m *mt) { m.Group = "" }), "meta.group"},
		{"scope/namespace object has no namespace", "namespace", meta(func(m *mt) { m.Namespace = "ns" }), "meta.namespace"},
		{"scope/group kind needs group", "image", meta(func(m *mt) { m.Group = "" }), "meta.group"},
		{"scope/group kind bad group", "imageentity", meta(func(m *mt) { m.Group = "Group1" }), "meta.group"},
		{"scope/group kind with namespace", "image", meta(func(m *mt) { m.Namespace = "ns1" }), "meta.namespace"},
		{"scope/namespaced needs namespace", "network", meta(func(m *mt) { m.Namespace = "" }), "meta.namespace"},
		{"scope/namespaced bad namespace", "network", meta(func(m *mt) { m.Namespace = "ns_1" }), "meta.namespace"},
		{"scope/namespaced needs group", "virtualmachine", meta(func(m *mt) { m.Group = "" }), "meta.group"},

		{"name/empty", "group", meta(func(m *mt) { m.Name = "" }), ""},
		{"name/unicode and spaces", "group", meta(func(m *mt) { m.Name = "グループ 1" }), ""},
		{"name/253 chars", "group", meta(func(m *mt) { m.Name = long(253) }), ""},
		{"name/253 non-ASCII chars", "group", meta(func(m *mt) { m.Name = strings.Repeat("名", 253) }), ""},
		{"name/254 chars", "group", meta(func(m *mt) { m.Name = long(254) }), "meta.name"},
		{"name/ideographic space", "group", meta(func(m *mt) { m.Name = "ネットワーク\u3000１" }), ""},
		{"name/line separator", "group", meta(func(m *mt) { m.Name = "a\u2028b" }), "meta.name"},
		{"name/DEL", "group", meta(func(m *mt) { m.Name = "a\x7fb" }), "meta.name"},
		{"name/control char", "group", meta(func(m *mt) { m.Name = "a\nb" }), "meta.name"},
		{"name/invalid utf-8", "group", meta(func(m *mt) { m.Name = "a\xffb" }), "meta.name"},

		{"annotations/valid", "group", meta(func(m *mt) { setAnnotation(m, "example.com/owner", "ops team") }), ""},
		{"annotations/empty key", "group", meta(func(m *mt) { setAnnotation(m, "", "x") }), `meta.annotations[""]`},
		{"annotations/key with space", "group", meta(func(m *mt) { setAnnotation(m, "a b", "x") }), `meta.annotations["a b"]`},
		{"annotations/key control char", "group", meta(func(m *mt) { setAnnotation(m, "a\x01", "x") }), `meta.annotations["a\x01"]`},
		{"annotations/key 254 chars", "group", meta(func(m *mt) { setAnnotation(m, long(254), "x") }), "meta.annotations[" + long(254) + "]"},
		{"annotations/value 64KiB", "group", meta(func(m *mt) { setAnnotation(m, "k", long(64<<10)) }), ""},
		{"annotations/value too long", "group", meta(func(m *mt) { setAnnotation(m, "k", long(64<<10+1)) }), "meta.annotations[k]"},
		{"labels/valid", "group", meta(func(m *mt) { m.Labels = map[string]string{"env": "prod"} }), ""},
		{"labels/empty key", "group", meta(func(m *mt) { m.Labels = map[string]string{"": "prod"} }), `meta.labels[""]`},
		{"labels/value too long", "group", meta(func(m *mt) { m.Labels = map[string]string{"env": long(64<<10 + 1)} }), "meta.labels[env]"},

		{"deleteState/Delete", "group", meta(func(m *mt) { m.DeleteState = api.DeleteStateDelete }), ""},
		{"deleteState/None", "group", meta(func(m *mt) { m.DeleteState = api.DeleteStateNone }), ""},
		{"deleteState/Done", "group", meta(func(m *mt) { m.DeleteState = api.DeleteStateDone }), ""},
		{"deleteState/unknown", "group", meta(func(m *mt) { m.DeleteState = "Deleted" }), "meta.deleteState"},

		{"finalizers/valid", "group", meta(func(m *mt) { m.Finalizers = []string{"humstack.io/agent", "core"} }), ""},
		{"finalizers/empty", "group", meta(func(m *mt) { m.Finalizers = []string{""} }), "meta.finalizers[0]"},
		{"finalizers/space", "group", meta(func(m *mt) { m.Finalizers = []string{"a", "b c"} }), "meta.finalizers[1]"},
		{"finalizers/too long", "group", meta(func(m *mt) { m.Finalizers = []string{long(254)} }), "meta.finalizers[0]"},
		{"finalizers/duplicate", "group", meta(func(m *mt) { m.Finalizers = []string{"a", "b", "a"} }), "meta.finalizers[2]"},

		{"ownerReferences/valid", "network", meta(func(m *mt) {
			m.OwnerReferences = []api.OwnerReference{{APIType: "corev0/namespace", ID: "ns1", Group: "group1"}}
		}), ""},
		{"ownerReferences/unknown apiType", "network", meta(func(m *mt) {
			m.OwnerReferences = []api.OwnerReference{{APIType: "corev0/nothing", ID: "ns1"}}
		}), "meta.ownerReferences[0].apiType"},
		{"ownerReferences/alias is not an apiType", "network", meta(func(m *mt) {
			m.OwnerReferences = []api.OwnerReference{{APIType: "ns", ID: "ns1"}}
		}), "meta.ownerReferences[0].apiType"},
		{"ownerReferences/missing id", "network", meta(func(m *mt) {
			m.OwnerReferences = []api.OwnerReference{{APIType: "corev0/group", ID: "g"}, {APIType: "corev0/group"}}
		}), "meta.ownerReferences[1].id"},
		{"ownerReferences/bad id", "network", meta(func(m *mt) {
			m.OwnerReferences = []api.OwnerReference{{APIType: "corev0/group", ID: "G"}}
		}), "meta.ownerReferences[0].id"},
		{"ownerReferences/bad group", "network", meta(func(m *mt) {
			m.OwnerReferences = []api.OwnerReference{{APIType: "corev0/namespace", ID: "ns1", Group: "a/b"}}
		}), "meta.ownerReferences[0].group"},
	})
}

func TestValidateExternalIPPool(t *testing.T) {
	type p = api.ExternalIPPool
	runRules(t, []ruleCase{
		{"valid", "externalippool", nil, ""},
		{"ipv4CIDR/missing", "externalippool", edit(func(o *p) { o.Spec.IPv4CIDR = "" }), "spec.ipv4CIDR"},
		{"ipv4CIDR/prefix 33", "externalippool", edit(func(o *p) { o.Spec.IPv4CIDR = "10.0.0.0/33" }), "spec.ipv4CIDR"},
		{"ipv4CIDR/host bits", "externalippool", edit(func(o *p) { o.Spec.IPv4CIDR = "192.168.10.1/24" }), "spec.ipv4CIDR"},
		{"ipv4CIDR/no prefix", "externalippool", edit(func(o *p) { o.Spec.IPv4CIDR = "192.168.10.0" }), "spec.ipv4CIDR"},
		{"ipv4CIDR/IPv6", "externalippool", edit(func(o *p) { o.Spec.IPv4CIDR = "fd00::/64" }), "spec.ipv4CIDR"},
		{"bridgeName/missing", "externalippool", edit(func(o *p) { o.Spec.BridgeName = "" }), "spec.bridgeName"},
		{"bridgeName/15 chars", "externalippool", edit(func(o *p) { o.Spec.BridgeName = "br-external.100" }), ""},
		{"bridgeName/16 chars", "externalippool", edit(func(o *p) { o.Spec.BridgeName = "br-external.1000" }), "spec.bridgeName"},
		{"bridgeName/slash", "externalippool", edit(func(o *p) { o.Spec.BridgeName = "br/0" }), "spec.bridgeName"},
		{"bridgeName/space", "externalippool", edit(func(o *p) { o.Spec.BridgeName = "br 0" }), "spec.bridgeName"},
		{"bridgeName/colon", "externalippool", edit(func(o *p) { o.Spec.BridgeName = "br:0" }), "spec.bridgeName"},
		{"bridgeName/percent", "externalippool", edit(func(o *p) { o.Spec.BridgeName = "br%d" }), "spec.bridgeName"},
		{"bridgeName/dot", "externalippool", edit(func(o *p) { o.Spec.BridgeName = "." }), "spec.bridgeName"},
		{"bridgeName/dotdot", "externalippool", edit(func(o *p) { o.Spec.BridgeName = ".." }), "spec.bridgeName"},
		{"bridgeName/shell", "externalippool", edit(func(o *p) { o.Spec.BridgeName = "br;reboot" }), "spec.bridgeName"},
		{"defaultGateway/unset", "externalippool", edit(func(o *p) { o.Spec.DefaultGateway = "" }), ""},
		{"defaultGateway/not an address", "externalippool", edit(func(o *p) { o.Spec.DefaultGateway = "192.168.10" }), "spec.defaultGateway"},
		{"defaultGateway/outside CIDR", "externalippool", edit(func(o *p) { o.Spec.DefaultGateway = "192.168.11.254" }), "spec.defaultGateway"},
	})
}

func TestValidateExternalIP(t *testing.T) {
	type e = api.ExternalIP
	runRules(t, []ruleCase{
		{"valid", "externalip", nil, ""},
		{"poolID/missing", "externalip", edit(func(o *e) { o.Spec.PoolID = "" }), "spec.poolID"},
		{"poolID/invalid", "externalip", edit(func(o *e) { o.Spec.PoolID = "Pool_1" }), "spec.poolID"},
		{"ipv4Address/missing", "externalip", edit(func(o *e) { o.Spec.IPv4Address = "" }), "spec.ipv4Address"},
		{"ipv4Address/three octets", "externalip", edit(func(o *e) { o.Spec.IPv4Address = "1.2.3" }), "spec.ipv4Address"},
		{"ipv4Address/leading zero", "externalip", edit(func(o *e) { o.Spec.IPv4Address = "192.168.10.010" }), "spec.ipv4Address"},
		{"ipv4Address/CIDR", "externalip", edit(func(o *e) { o.Spec.IPv4Address = "192.168.10.100/24" }), "spec.ipv4Address"},
		{"ipv4Address/IPv6", "externalip", edit(func(o *e) { o.Spec.IPv4Address = "::1" }), "spec.ipv4Address"},
		{"ipv4Prefix/unset", "externalip", edit(func(o *e) { o.Spec.IPv4Prefix = 0 }), ""},
		{"ipv4Prefix/32", "externalip", edit(func(o *e) { o.Spec.IPv4Prefix = 32 }), ""},
		{"ipv4Prefix/33", "externalip", edit(func(o *e) { o.Spec.IPv4Prefix = 33 }), "spec.ipv4Prefix"},
		{"ipv4Prefix/negative", "externalip", edit(func(o *e) { o.Spec.IPv4Prefix = -1 }), "spec.ipv4Prefix"},
	})
}

func TestValidateNetwork(t *testing.T) {
	type n = api.Network
	typeField := "meta.annotations[networkv0/network_type]"
	gwField := "meta.annotations[networkv0/default_gateway]"
	typ := func(v string) func(*n) { return func(o *n) { setAnnotation(&o.Meta, api.AnnotationNetworkType, v) } }
	typed := func(v, id string) func(api.Object) {
		return edit(func(o *n) { typ(v)(o); o.Spec.ID = id })
	}
	runRules(t, []ruleCase{
		{"valid VXLAN", "network", nil, ""},
		{"type/defaults to Bridge", "network", edit(func(o *n) { o.Meta.Annotations = nil }), ""},
		{"type/unknown", "network", edit(typ("Macvlan")), typeField},
		{"type/wrong case", "network", edit(typ("vxlan")), typeField},
		{"VXLAN/id missing", "network", typed("VXLAN", ""), "spec.id"},
		{"VXLAN/id 0", "network", typed("VXLAN", "0"), "spec.id"},
		{"VXLAN/id max", "network", typed("VXLAN", "16777215"), ""},
		{"VXLAN/id too big", "network", typed("VXLAN", "16777216"), "spec.id"},
		{"VXLAN/id not a number", "network", typed("VXLAN", "ten"), "spec.id"},
		{"VXLAN/id with sign", "network", typed("VXLAN", "+10"), "spec.id"},
		{"VXLAN/id leading zero", "network", typed("VXLAN", "010"), "spec.id"},
		{"VLAN/id valid", "network", typed("VLAN", "4094"), ""},
		{"VLAN/id missing", "network", typed("VLAN", ""), "spec.id"},
		{"VLAN/id 4095", "network", typed("VLAN", "4095"), "spec.id"},
		{"VLAN/id 0", "network", typed("VLAN", "0"), "spec.id"},
		{"Bridge/no id", "network", typed("Bridge", ""), ""},
		{"Bridge/decimal id", "network", typed("Bridge", "7"), ""},
		{"Bridge/non-decimal id", "network", typed("Bridge", "x7"), "spec.id"},
		{"ipv4CIDR/missing", "network", edit(func(o *n) { o.Spec.IPv4CIDR = "" }), "spec.ipv4CIDR"},
		{"ipv4CIDR/host bits", "network", edit(func(o *n) { o.Spec.IPv4CIDR = "10.0.0.1/24" }), "spec.ipv4CIDR"},
		{"ipv4CIDR/prefix 33", "network", edit(func(o *n) { o.Spec.IPv4CIDR = "10.0.0.0/33" }), "spec.ipv4CIDR"},
		{"default_gateway/valid", "network", edit(func(o *n) { setAnnotation(&o.Meta, api.AnnotationDefaultGateway, "10.0.0.254/24") }), ""},
		{"default_gateway/no prefix", "network", edit(func(o *n) { setAnnotation(&o.Meta, api.AnnotationDefaultGateway, "10.0.0.254") }), gwField},
		{"default_gateway/outside", "network", edit(func(o *n) { setAnnotation(&o.Meta, api.AnnotationDefaultGateway, "10.0.1.254/24") }), gwField},
		{"default_gateway/other prefix", "network", edit(func(o *n) { setAnnotation(&o.Meta, api.AnnotationDefaultGateway, "10.0.0.254/16") }), gwField},
		{"bridge_name/valid", "network", edit(func(o *n) { setAnnotation(&o.Meta, api.AnnotationBridgeName, "hum-3f2a9c") }), ""},
		{"bridge_name/too long", "network", edit(func(o *n) { setAnnotation(&o.Meta, api.AnnotationBridgeName, "humstack-network-1") }),
			"meta.annotations[networkv0/bridge_name]"},
	})
}

func TestValidateVirtualRouter(t *testing.T) {
	type r = api.VirtualRouter
	nodeField := "meta.annotations[virtualrouterv0/node_name]"
	runRules(t, []ruleCase{
		{"valid", "virtualrouter", nil, ""},
		{"node_name/missing: the scheduler places it", "virtualrouter", edit(func(o *r) { delete(o.Meta.Annotations, api.AnnotationRouterNode) }), ""},
		{"node_name/invalid", "virtualrouter", edit(func(o *r) { setAnnotation(&o.Meta, api.AnnotationRouterNode, "Worker2") }), nodeField},
		{"externalGateway/unset", "virtualrouter", edit(func(o *r) { o.Spec.ExternalGateway = "" }), ""},
		{"externalGateway/invalid", "virtualrouter", edit(func(o *r) { o.Spec.ExternalGateway = "gw" }), "spec.externalGateway"},
		{"natGatewayIP/unset", "virtualrouter", edit(func(o *r) { o.Spec.NATGatewayIP = "" }), ""},
		{"natGatewayIP/invalid", "virtualrouter", edit(func(o *r) { o.Spec.NATGatewayIP = "192.168.10" }), "spec.natGatewayIP"},
		{"externalIPs/none", "virtualrouter", edit(func(o *r) { o.Spec.ExternalIPs = nil }), ""},
		{"externalIPs/id missing", "virtualrouter", edit(func(o *r) { o.Spec.ExternalIPs[0].ExternalIPID = "" }), "spec.externalIPs[0].externalIPID"},
		{"externalIPs/id invalid", "virtualrouter", edit(func(o *r) { o.Spec.ExternalIPs[0].ExternalIPID = "EIP1" }), "spec.externalIPs[0].externalIPID"},
		{"externalIPs/duplicate", "virtualrouter", edit(func(o *r) {
			o.Spec.ExternalIPs = append(o.Spec.ExternalIPs, api.VirtualRouterExternalIP{ExternalIPID: "eip1", BindInternalIPv4Address: "10.0.0.2"})
		}), "spec.externalIPs[1].externalIPID"},
		{"externalIPs/bind CIDR", "virtualrouter", edit(func(o *r) { o.Spec.ExternalIPs[0].BindInternalIPv4Address = "10.0.0.1/24" }),
			"spec.externalIPs[0].bindInternalIPv4Address"},
		{"externalIPs/bind missing", "virtualrouter", edit(func(o *r) { o.Spec.ExternalIPs[0].BindInternalIPv4Address = "" }),
			"spec.externalIPs[0].bindInternalIPv4Address"},
		{"nics/none", "virtualrouter", edit(func(o *r) { o.Spec.NICs = nil }), "spec.nics"},
		{"nics/networkID missing", "virtualrouter", edit(func(o *r) { o.Spec.NICs[0].NetworkID = "" }), "spec.nics[0].networkID"},
		{"nics/networkID invalid", "virtualrouter", edit(func(o *r) { o.Spec.NICs[0].NetworkID = "net 1" }), "spec.nics[0].networkID"},
		{"nics/address without prefix", "virtualrouter", edit(func(o *r) { o.Spec.NICs[0].IPv4Address = "10.0.0.254" }), "spec.nics[0].ipv4Address"},
		{"nics/address missing", "virtualrouter", edit(func(o *r) { o.Spec.NICs[0].IPv4Address = "" }), "spec.nics[0].ipv4Address"},
		{"nics/second network", "virtualrouter", edit(func(o *r) {
			o.Spec.NICs = append(o.Spec.NICs, api.VirtualRouterNIC{NetworkID: "net2", IPv4Address: "10.0.1.254/24"})
		}), ""},
		{"nics/duplicate network", "virtualrouter", edit(func(o *r) {
			o.Spec.NICs = append(o.Spec.NICs, api.VirtualRouterNIC{NetworkID: "net1", IPv4Address: "10.0.0.253/24"})
		}), "spec.nics[1].networkID"},
	})
}

func TestValidateImageEntity(t *testing.T) {
	type e = api.ImageEntity
	runRules(t, []ruleCase{
		{"valid", "imageentity", nil, ""},
		{"namespace/missing", "imageentity", edit(func(o *e) { o.Spec.Source.Namespace = "" }), "spec.source.namespace"},
		{"namespace/invalid", "imageentity", edit(func(o *e) { o.Spec.Source.Namespace = "NS1" }), "spec.source.namespace"},
		{"blockStorageID/missing", "imageentity", edit(func(o *e) { o.Spec.Source.BlockStorageID = "" }), "spec.source.blockStorageID"},
		{"blockStorageID/invalid", "imageentity", edit(func(o *e) { o.Spec.Source.BlockStorageID = "bs1/.." }), "spec.source.blockStorageID"},
	})
}

func TestValidateImage(t *testing.T) {
	type i = api.Image
	tag := func(k, v string) func(api.Object) { return edit(func(o *i) { o.Spec.EntityMap[k] = v }) }
	runRules(t, []ruleCase{
		{"valid", "image", nil, ""},
		{"empty map", "image", edit(func(o *i) { o.Spec.EntityMap = nil }), ""},
		{"tag/with dots and dashes", "image", tag("20.04-lts_v2", "e2"), ""},
		{"tag/empty", "image", tag("", "e2"), `spec.entityMap[""]`},
		{"tag/leading dash", "image", tag("-rc", "e2"), "spec.entityMap[-rc]"},
		{"tag/slash", "image", tag("a/b", "e2"), "spec.entityMap[a/b]"},
		{"tag/129 chars", "image", tag(long(129), "e2"), "spec.entityMap[" + long(129) + "]"},
		{"entity/invalid", "image", tag("latest", "Entity_1"), "spec.entityMap[latest]"},
		{"entity/empty", "image", tag("0.1", ""), "spec.entityMap[0.1]"},
	})
}

func TestValidateBlockStorage(t *testing.T) {
	type b = api.BlockStorage
	typeField := "meta.annotations[blockstoragev0/type]"
	nodeField := "meta.annotations[blockstoragev0/node_name]"
	httpURL := func(u string) func(api.Object) { return edit(func(o *b) { o.Spec.From.HTTP.URL = u }) }
	runRules(t, []ruleCase{
		{"valid HTTP", "blockstorage", nil, ""},
		{"valid BaseImage", "blockstorage-baseimage", nil, ""},
		{"type/defaults to Local", "blockstorage", edit(func(o *b) { delete(o.Meta.Annotations, api.AnnotationBlockStorageType) }), ""},
		{"type/unknown", "blockstorage", edit(func(o *b) { setAnnotation(&o.Meta, api.AnnotationBlockStorageType, "Ceph") }), typeField},
		{"node_name/missing: the scheduler places it", "blockstorage", edit(func(o *b) { delete(o.Meta.Annotations, api.AnnotationBlockStorageNode) }), ""},
		{"node_name/invalid", "blockstorage", edit(func(o *b) { setAnnotation(&o.Meta, api.AnnotationBlockStorageNode, "worker1.local") }), nodeField},

		{"requestSize/missing", "blockstorage", edit(func(o *b) { o.Spec.RequestSize = "" }), "spec.requestSize"},
		{"requestSize/bad unit", "blockstorage", edit(func(o *b) { o.Spec.RequestSize = "1X" }), "spec.requestSize"},
		{"requestSize/negative", "blockstorage", edit(func(o *b) { o.Spec.RequestSize = "-1G" }), "spec.requestSize"},
		{"requestSize/minus zero", "blockstorage", edit(func(o *b) { o.Spec.RequestSize = "-0" }), "spec.requestSize"},
		{"requestSize/Gi", "blockstorage", edit(func(o *b) { o.Spec.RequestSize = "1Gi" }), ""},
		{"limitSize/missing", "blockstorage", edit(func(o *b) { o.Spec.LimitSize = "" }), "spec.limitSize"},
		{"limitSize/bad unit", "blockstorage", edit(func(o *b) { o.Spec.LimitSize = "10GB" }), "spec.limitSize"},
		{"limitSize/zero", "blockstorage", edit(func(o *b) { o.Spec.RequestSize, o.Spec.LimitSize = "0", "0" }), "spec.limitSize"},
		{"limitSize/below request", "blockstorage", edit(func(o *b) { o.Spec.LimitSize = "512M" }), "spec.limitSize"},
		{"limitSize/equal in other units", "blockstorage", edit(func(o *b) { o.Spec.LimitSize = "1024Mi" }), ""},

		{"from/type defaults to Empty", "blockstorage", edit(func(o *b) { o.Spec.From = api.BlockStorageFrom{} }), ""},
		{"from/type unknown", "blockstorage", edit(func(o *b) { o.Spec.From.Type = "FTP" }), "spec.from.type"},
		{"from/Empty with http", "blockstorage", edit(func(o *b) { o.Spec.From.Type = api.BlockStorageFromEmpty }), "spec.from.http"},
		{"from/untyped with http", "blockstorage", edit(func(o *b) { o.Spec.From.Type = "" }), "spec.from.http"},
		{"from/Empty with baseImage", "blockstorage-baseimage", edit(func(o *b) { o.Spec.From.Type = api.BlockStorageFromEmpty }), "spec.from.baseImage"},

		{"HTTP/section missing", "blockstorage", edit(func(o *b) { o.Spec.From.HTTP = nil }), "spec.from.http"},
		{"HTTP/with baseImage", "blockstorage", edit(func(o *b) {
			o.Spec.From.BaseImage = &api.BlockStorageBaseImage{ImageName: "ubuntu", Tag: "2004"}
		}), "spec.from.baseImage"},
		{"HTTP/https", "blockstorage", httpURL("https://cloud-images.ubuntu.com/focal/current/focal-server-cloudimg-amd64.img"), ""},
		{"HTTP/url missing", "blockstorage", httpURL(""), "spec.from.http.url"},
		{"HTTP/url ftp", "blockstorage", httpURL("ftp://192.168.20.2/img"), "spec.from.http.url"},
		{"HTTP/url file", "blockstorage", httpURL("file:///etc/shadow"), "spec.from.http.url"},
		{"HTTP/url relative", "blockstorage", httpURL("/focal.img"), "spec.from.http.url"},
		{"HTTP/url no host", "blockstorage", httpURL("http:///focal.img"), "spec.from.http.url"},
		{"HTTP/url port only", "blockstorage", httpURL("http://:8082/focal.img"), "spec.from.http.url"},
		{"HTTP/url with space", "blockstorage", httpURL("http://host/a b.img"), "spec.from.http.url"},

		{"BaseImage/section missing", "blockstorage-baseimage", edit(func(o *b) { o.Spec.From.BaseImage = nil }), "spec.from.baseImage"},
		{"BaseImage/with http", "blockstorage-baseimage", edit(func(o *b) { o.Spec.From.HTTP = &api.BlockStorageHTTP{URL: "http://h/i"} }), "spec.from.http"},
		{"BaseImage/imageName missing", "blockstorage-baseimage", edit(func(o *b) { o.Spec.From.BaseImage.ImageName = "" }), "spec.from.baseImage.imageName"},
		{"BaseImage/imageName invalid", "blockstorage-baseimage", edit(func(o *b) { o.Spec.From.BaseImage.ImageName = "Ubuntu" }), "spec.from.baseImage.imageName"},
		{"BaseImage/tag missing", "blockstorage-baseimage", edit(func(o *b) { o.Spec.From.BaseImage.Tag = "" }), "spec.from.baseImage.tag"},
		{"BaseImage/tag invalid", "blockstorage-baseimage", edit(func(o *b) { o.Spec.From.BaseImage.Tag = "20 04" }), "spec.from.baseImage.tag"},
	})
}

func TestValidateVirtualMachine(t *testing.T) {
	type v = api.VirtualMachine
	const vmSeed = "virtualmachine"
	nodeField := "meta.annotations[virtualmachinev0/node_name]"
	spec := func(f func(s *api.VirtualMachineSpec)) func(api.Object) { return edit(func(o *v) { f(&o.Spec) }) }
	type s = api.VirtualMachineSpec
	key := func(k string) func(api.Object) {
		return spec(func(s *s) { s.LoginUsers[0].SSHAuthorizedKeys = []string{k} })
	}
	const ed25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl user@host"
	runRules(t, []ruleCase{
		{"valid", vmSeed, nil, ""},
		{"securityGroupIDs/two", vmSeed, spec(func(s *s) { s.NICs[0].SecurityGroupIDs = []string{"web", "ssh"} }), ""},
		{"securityGroupIDs/bad id", vmSeed, spec(func(s *s) { s.NICs[0].SecurityGroupIDs = []string{"web", "Web!"} }), "spec.nics[0].securityGroupIDs[1]"},
		{"securityGroupIDs/duplicate", vmSeed, spec(func(s *s) { s.NICs[0].SecurityGroupIDs = []string{"web", "web"} }), "spec.nics[0].securityGroupIDs[1]"},
		{"securityGroupIDs/too many", vmSeed, spec(func(s *s) {
			for i := range 17 {
				s.NICs[0].SecurityGroupIDs = append(s.NICs[0].SecurityGroupIDs, fmt.Sprintf("g%d", i))
			}
		}), "spec.nics[0].securityGroupIDs"},
		{"node_name/missing: the scheduler places it", vmSeed, edit(func(o *v) { o.Meta.Annotations = nil }), ""},
		{"node_name/invalid", vmSeed, edit(func(o *v) { setAnnotation(&o.Meta, api.AnnotationVirtualMachineNode, "$(reboot)") }), nodeField},
		{"accelerator/kvm", vmSeed, edit(func(o *v) { setAnnotation(&o.Meta, api.AnnotationAccelerator, "kvm") }), ""},
		{"accelerator/other", vmSeed, edit(func(o *v) { setAnnotation(&o.Meta, api.AnnotationAccelerator, "fast") }), "meta.annotations[virtualmachinev0/accelerator]"},
		{"node_selector/ok", vmSeed, edit(func(o *v) { setAnnotation(&o.Meta, api.AnnotationNodeSelector, "rack=a, gpu=yes") }), ""},
		{"node_selector/bad", vmSeed, edit(func(o *v) { setAnnotation(&o.Meta, api.AnnotationNodeSelector, "rack") }), "meta.annotations[schedulerv0/node_selector]"},
		{"anti_affinity/bad", vmSeed, edit(func(o *v) { setAnnotation(&o.Meta, api.AnnotationAntiAffinity, "=web") }), "meta.annotations[schedulerv0/anti_affinity]"},

		{"vcpus/whole numbers", vmSeed, spec(func(s *s) { s.RequestVcpus, s.LimitVcpus = "1", "2" }), ""},
		{"vcpus/limit 1500m", vmSeed, spec(func(s *s) { s.RequestVcpus, s.LimitVcpus = "1000m", "1500m" }), "spec.limitVcpus"},
		{"memory/limit below 16M", vmSeed, spec(func(s *s) { s.RequestMemory, s.LimitMemory = "1M", "8M" }), "spec.limitMemory"},
		{"vcpus/request 0m", vmSeed, spec(func(s *s) { s.RequestVcpus = "0m" }), "spec.requestVcpus"},
		{"vcpus/request missing", vmSeed, spec(func(s *s) { s.RequestVcpus = "" }), "spec.requestVcpus"},
		{"vcpus/request rounds to 0", vmSeed, spec(func(s *s) { s.RequestVcpus = "0.0001" }), "spec.requestVcpus"},
		{"vcpus/limit malformed", vmSeed, spec(func(s *s) { s.LimitVcpus = "one" }), "spec.limitVcpus"},
		{"vcpus/limit below request", vmSeed, spec(func(s *s) { s.LimitVcpus = "500m" }), "spec.limitVcpus"},

		{"memory/request 0", vmSeed, spec(func(s *s) { s.RequestMemory = "0" }), "spec.requestMemory"},
		{"memory/request malformed", vmSeed, spec(func(s *s) { s.RequestMemory = "1X" }), "spec.requestMemory"},
		{"memory/limit missing", vmSeed, spec(func(s *s) { s.LimitMemory = "" }), "spec.limitMemory"},
		{"memory/limit below request", vmSeed, spec(func(s *s) { s.LimitMemory = "512M" }), "spec.limitMemory"},
		{"memory/limit above request", vmSeed, spec(func(s *s) { s.RequestMemory = "512Mi" }), ""},

		{"blockStorageIDs/none", vmSeed, spec(func(s *s) { s.BlockStorageIDs = nil }), ""},
		{"blockStorageIDs/invalid", vmSeed, spec(func(s *s) { s.BlockStorageIDs = []string{"bs1", "BS2"} }), "spec.blockStorageIDs[1]"},
		{"blockStorageIDs/duplicate", vmSeed, spec(func(s *s) { s.BlockStorageIDs = []string{"bs1", "bs1"} }), "spec.blockStorageIDs[1]"},

		{"nics/none", vmSeed, spec(func(s *s) { s.NICs = nil }), ""},
		{"nics/networkID missing", vmSeed, spec(func(s *s) { s.NICs[0].NetworkID = "" }), "spec.nics[0].networkID"},
		{"nics/address unset (DHCP-less, no address)", vmSeed, spec(func(s *s) { s.NICs[0].IPv4Address = "" }), ""},
		{"nics/address CIDR", vmSeed, spec(func(s *s) { s.NICs[0].IPv4Address = "10.0.0.1/24" }), "spec.nics[0].ipv4Address"},
		{"nics/address malformed", vmSeed, spec(func(s *s) { s.NICs[0].IPv4Address = "10.0.0" }), "spec.nics[0].ipv4Address"},
		{"nics/nameserver invalid", vmSeed, spec(func(s *s) { s.NICs[0].Nameservers = []string{"8.8.8.8", "dns.google"} }), "spec.nics[0].nameservers[1]"},
		{"nics/gateway unset", vmSeed, spec(func(s *s) { s.NICs[0].DefaultGateway = "" }), ""},
		{"nics/gateway invalid", vmSeed, spec(func(s *s) { s.NICs[0].DefaultGateway = "10.0.0.254/24" }), "spec.nics[0].defaultGateway"},

		{"actionState/defaults to PowerOn", vmSeed, spec(func(s *s) { s.ActionState = "" }), ""},
		{"actionState/PowerOff", vmSeed, spec(func(s *s) { s.ActionState = api.ActionPowerOff }), ""},
		{"actionState/unknown", vmSeed, spec(func(s *s) { s.ActionState = "Reboot" }), "spec.actionState"},

		{"hostname/fqdn", vmSeed, spec(func(s *s) { s.Hostname = "web-1.example.com" }), ""},
		{"hostname/leading dash", vmSeed, spec(func(s *s) { s.Hostname = "-web" }), "spec.hostname"},
		{"hostname/underscore", vmSeed, spec(func(s *s) { s.Hostname = "web_1" }), "spec.hostname"},
		{"hostname/trailing dot", vmSeed, spec(func(s *s) { s.Hostname = "web." }), "spec.hostname"},
		{"hostname/64-char label", vmSeed, spec(func(s *s) { s.Hostname = long(64) + ".example" }), "spec.hostname"},
		{"hostname/254 chars", vmSeed, spec(func(s *s) { s.Hostname = long(63) + "." + long(63) + "." + long(63) + "." + long(62) }), "spec.hostname"},

		{"loginUsers/username missing", vmSeed, spec(func(s *s) { s.LoginUsers[0].Username = "" }), "spec.loginUsers[0].username"},
		{"loginUsers/username uppercase", vmSeed, spec(func(s *s) { s.LoginUsers[0].Username = "Test" }), "spec.loginUsers[0].username"},
		{"loginUsers/username leading digit", vmSeed, spec(func(s *s) { s.LoginUsers[0].Username = "1test" }), "spec.loginUsers[0].username"},
		{"loginUsers/username 32 chars", vmSeed, spec(func(s *s) { s.LoginUsers[0].Username = long(32) }), ""},
		{"loginUsers/username 33 chars", vmSeed, spec(func(s *s) { s.LoginUsers[0].Username = long(33) }), "spec.loginUsers[0].username"},
		{"loginUsers/duplicate", vmSeed, spec(func(s *s) { s.LoginUsers = append(s.LoginUsers, api.LoginUser{Username: "test"}) }), "spec.loginUsers[1].username"},
		{"sshKey/ed25519 with comment", vmSeed, key(ed25519), ""},
		{"sshKey/sk-ed25519", vmSeed, key("sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29t"), ""},
		{"sshKey/dss", vmSeed, key("ssh-dss AAAAB3NzaC1kc3M="), "spec.loginUsers[0].sshAuthorizedKeys[0]"},
		{"sshKey/type only", vmSeed, key("ssh-rsa"), "spec.loginUsers[0].sshAuthorizedKeys[0]"},
		{"sshKey/not base64", vmSeed, key("ssh-rsa AAAA!!!!"), "spec.loginUsers[0].sshAuthorizedKeys[0]"},
		{"sshKey/options first", vmSeed, key(`from="10.0.0.0/8" ` + ed25519), "spec.loginUsers[0].sshAuthorizedKeys[0]"},
		{"sshKey/non-ASCII comment", vmSeed, key(ed25519 + " 田中@laptop"), ""},
		{"sshKey/tab", vmSeed, key("ssh-ed25519\tAAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"), "spec.loginUsers[0].sshAuthorizedKeys[0]"},
		{"sshKey/two lines", vmSeed, key(ed25519 + "\n" + ed25519), "spec.loginUsers[0].sshAuthorizedKeys[0]"},
	})
}

func TestValidateNode(t *testing.T) {
	type n = api.Node
	runRules(t, []ruleCase{
		{"valid", "node", nil, ""},
		{"bare", "node", edit(func(o *n) { o.Spec, o.Status = api.NodeSpec{}, api.NodeStatus{} }), ""},
		{"address/IPv6", "node", edit(func(o *n) { o.Spec.Address = "fd00::1" }), ""},
		{"address/zone", "node", edit(func(o *n) { o.Spec.Address = "fe80::1%eth0" }), "spec.address"},
		{"address/hostname", "node", edit(func(o *n) { o.Spec.Address = "worker1" }), "spec.address"},
		{"limitMemory/malformed", "node", edit(func(o *n) { o.Spec.LimitMemory = "8GB" }), "spec.limitMemory"},
		{"limitVcpus/whole", "node", edit(func(o *n) { o.Spec.LimitVcpus = "8" }), ""},
		{"limitVcpus/0m", "node", edit(func(o *n) { o.Spec.LimitVcpus = "0m" }), "spec.limitVcpus"},
		{"state/NotReady", "node", edit(func(o *n) { o.Status.State = api.NodeNotReady }), ""},
		{"state/unknown", "node", edit(func(o *n) { o.Status.State = "Down" }), "status.state"},
		{"id/invalid", "node", edit(func(o *n) { o.Meta.ID = "Worker1.local" }), "meta.id"},
	})
}
