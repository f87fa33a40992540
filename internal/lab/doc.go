// Package lab runs a multi-node humstack cluster on one machine, each node a
// network namespace, for tests (see labtest) and for humans (cmd/humlab,
// `make lab-up` / `make lab-down`).
//
// # Names
//
// Everything a lab makes is named after its ID (3-12 lowercase letters and
// digits, no '-', so one lab's prefix is never the start of another's):
// network namespaces "hs-<id>-hub", "hs-<id>-outside" and
// "hs-<id>-node-a", "hs-<id>-node-b", ...; the work directory
// "<BaseDir>/humstack-lab-<id>" holding the state file, the API server's
// store, every agent's config, data directories and log. Leftovers of a crashed run are thereby recognizable:
// Up refuses to start over them unless Config.CleanStale is set, and Clean
// removes them. A lab started by a test records the test process as its
// owner and its processes die with it (a parent-death signal), so a test
// binary killed by its timeout leaves only namespaces and files, which
// CleanOrphans (run by labtest.Main) removes. Detached labs (humlab) live
// until `humlab down`.
//
// # Topology
//
//	hs-<id>-hub        bridge ulbr 172.31.0.254/24 (multicast snooping off,
//	                   no VLAN filtering: VXLAN multicast and 802.1Q trunks pass)
//	  veth node-a <-> eth0 172.31.0.1/24 in hs-<id>-node-a   (apiserver :8080, Core agent)
//	  veth node-b <-> eth0 172.31.0.2/24 in hs-<id>-node-b   (System agent)
//	  veth node-c <-> eth0 172.31.0.3/24 in hs-<id>-node-c   (System agent)
//	hs-<id>-outside    bridge exBr 192.168.10.254/24 (the routers' default gateway),
//	                   203.0.113.1/32 on lo (a host standing for the internet)
//	  veth node-a <-> eth1 in hs-<id>-node-a, a port of that node's own bridge exBr
//	  ...
//
// Nodes share the host's UTS namespace (hostname); the agents' nodeName
// names them. The underlay is the nodes' eth0, the agents' VXLAN and VLAN
// device; MTU 1500 everywhere. The hub's own address is where a test
// serves files to the agents (Listen in the Hub namespace), as a user's
// image URL would.
//
// Every node has a bridge named exBr, the bridgeName of the seed's external
// IP pool, because a router attaches to that bridge on the node it runs
// on; the node's exBr has no address (the node is not on the external
// network, its routers are) and is joined by eth1 to the outside
// namespace's exBr, so all of them form one L2 segment 192.168.10.0/24
// whose gateway is the outside namespace.
//
// In every namespace loopback is up and bridged frames skip br_netfilter
// as on a plain host (unless HUMSTACK_LAB_BRIDGE_NETFILTER=1: then they
// pass it, as on a node enforcing security groups, whose agent turns it
// on); nodes and outside forward IPv4; the lab's own links
// retransmit ARP after 100 ms (links made later keep the kernel's 1 s:
// only the host's namespace has neigh/default).
//
// The kernel of the machines this was built on has no 802.1Q links
// (CONFIG_VLAN_8021Q unset) nor bridge VLAN filtering: the underlay does
// carry tagged frames (a test proves it with raw frames), but VLAN links
// cannot be made there.
//
// # Reaching the lab from the test process
//
// The test process stays in the host's network namespace. Lab.Client is an
// ordinary client whose HTTP transport dials through DialContext, which
// makes each socket inside node-a's namespace (on a thread that enters the
// namespace only for socket creation and connect); no port is forwarded and
// nothing is exposed on the host. SSH and Listen use the same mechanism.
// Commands run in a namespace with `ip netns exec` (Exec, Humcli), which
// also mounts that namespace's /sys, as the agents need.
//
// Named namespaces are made and removed with `ip netns add/del` rather
// than in Go: iproute2 also sets /run/netns up as a shared mount, which
// `ip netns exec` (used to start every lab process) relies on, and the
// result is what a human inspects with `ip netns`.
//
// # Secure labs (the default)
//
// A lab runs the way humstack secures a cluster by default: the API
// server with --tls auto --authorization rbac; the lab reads the cluster
// CA and the bootstrap admin token from its data dir, binds the Core
// node(s) to the built-in role core-agent (a clusterrolebinding, applied
// with humcli), and gives each agent a join token of its own (bound to its
// node name, single use) with the CA's fingerprint pinned; no config holds
// a shared secret. Nodes then reach each other's listener (images,
// consoles) over mutual TLS with their node certificates. Lab.Client and
// Lab.Humcli speak HTTPS trusting the CA, with the admin token;
// Lab.HTTPClient trusts the CA and sends no credential. Config.Insecure
// runs the trusted-lab setup instead: plain HTTP, no authorization, and a
// shared download secret.
//
// # Use
//
// In tests: labtest.Up(t, lab.Config{...}) returns a Ready lab and downs it
// at cleanup. Lab.Client (Go client), Lab.Humcli (the real CLI in node-a),
// Lab.Exec (a command in a node, Hub or Outside), Lab.StopAgent and
// Lab.StartAgent (kill -9 and restart), Lab.LogTail, and Lab.WaitState
// (an object's status.state, with its status and its agents' logs on
// failure). For any namespace: Exec, Ping, SSH, DialContext, Listen,
// InNetns and WithNetlink; for guests' serial logs: WaitForLog.
package lab
