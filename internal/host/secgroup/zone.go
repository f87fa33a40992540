package secgroup

import (
	"crypto/sha256"
	"encoding/binary"
	"slices"
)

// zone is the conntrack zone of a bridge's bridged frames.
type zone struct {
	bridge string
	id     uint16
}

// zoneIDs gives every bridge of nics a distinct zone, sorted by bridge.
// The id is derived from the bridge's name, so that it stays the same when
// other bridges come and go (a flow whose zone changed would be new again,
// and cut by its NIC's rules); on a collision, the next free id, taken in
// bridge order. Zone 0, the default, is never used.
func zoneIDs(nics []NIC) []zone {
	var bridges []string
	for _, n := range nics {
		if n.Bridge != "" {
			bridges = append(bridges, n.Bridge)
		}
	}
	slices.Sort(bridges)
	bridges = slices.Compact(bridges)
	used := map[uint16]bool{0: true}
	out := make([]zone, 0, len(bridges))
	for _, br := range bridges {
		sum := sha256.Sum256([]byte("humstack-ct-zone/" + br))
		id := binary.BigEndian.Uint16(sum[:2])
		for used[id] {
			id++
		}
		used[id] = true
		out = append(out, zone{br, id})
	}
	return out
}
