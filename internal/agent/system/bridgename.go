package system

import "github.com/humstack/humstack/internal/host/link"

// BridgeName is the Linux bridge of a network, the same on every node
// (see link.BridgeName).
func BridgeName(group, namespace, id string) string { return link.BridgeName(group, namespace, id) }
