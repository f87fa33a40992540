package iso9660

import (
	"bytes"
	"encoding/binary"
	"testing"
	"unicode/utf16"
)

// entry is a directory record as the tests read it back.
type entry struct {
	ident  []byte
	extent uint32
	size   uint32
	dir    bool
	su     map[string][]byte // SUSP entries by signature: their data
}

// readDir decodes the directory records of one directory sector, checking
// what every reader relies on: both byte orders agree, records are even
// and do not cross the sector.
func readDir(t *testing.T, img []byte, sec uint32) []entry {
	t.Helper()
	b := img[int(sec)*SectorSize : int(sec+1)*SectorSize]
	var out []entry
	for i := 0; i < len(b) && b[i] != 0; i += int(b[i]) {
		r := b[i : i+int(b[i])]
		if len(r)%2 != 0 || len(r) < 34 {
			t.Fatalf("sector %d: record of %d bytes", sec, len(r))
		}
		e := entry{extent: both(t, r[2:10]), size: both(t, r[10:18]), dir: r[25]&2 != 0, su: map[string][]byte{}}
		n := int(r[32])
		e.ident = r[33 : 33+n]
		off := 33 + n
		if n%2 == 0 {
			off++
		}
		for su := r[off:]; len(su) >= 4 && su[2] >= 4 && int(su[2]) <= len(su); su = su[su[2]:] {
			if su[3] != 1 {
				t.Errorf("SUSP entry %s version %d", su[:2], su[3])
			}
			e.su[string(su[:2])] = su[4:su[2]]
		}
		out = append(out, e)
	}
	return out
}

// both decodes a both-byte-order 32-bit number, failing if the halves differ.
func both(t *testing.T, b []byte) uint32 {
	t.Helper()
	le, be := binary.LittleEndian.Uint32(b), binary.BigEndian.Uint32(b[4:])
	if le != be {
		t.Fatalf("both-endian field % x: %d != %d", b, le, be)
	}
	return le
}

func fromUCS2(b []byte) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.BigEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u))
}

// rootOf returns the root directory's sector named by a volume descriptor.
func rootOf(t *testing.T, img []byte, vd int) uint32 {
	t.Helper()
	return both(t, img[vd*SectorSize+156+2:])
}

// filesOf reads a tree's files: by Rock Ridge NM name (rock), by Joliet
// name (joliet), or by primary identifier.
func filesOf(t *testing.T, img []byte, root uint32, names func(entry) string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	for _, e := range readDir(t, img, root)[2:] {
		files[names(e)] = bytes.Clone(img[int(e.extent)*SectorSize : int(e.extent)*SectorSize+int(e.size)])
	}
	return files
}
