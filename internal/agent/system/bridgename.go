package system

import (
	"crypto/sha256"
	"encoding/base32"
	"strings"
)

// BridgeName is the Linux bridge of a network: the same on every node,
// derived from the network's scope and id only, at most 15 characters (the
// kernel's limit). 60 bits of hash make collisions negligible at any
// realistic number of networks. Lowercase base32 keeps it a valid
// interface name.
func BridgeName(group, namespace, id string) string {
	sum := sha256.Sum256([]byte(group + "/" + namespace + "/" + id))
	enc := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:])
	return "hs" + strings.ToLower(enc[:12])
}
