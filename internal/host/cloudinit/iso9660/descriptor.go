package iso9660

import "encoding/binary"

// Identifiers written into both volume descriptors.
const (
	systemID      = "LINUX"
	applicationID = "HUMSTACK NOCLOUD SEED"
)

// descriptor is the Primary (joliet false) or the Joliet Supplementary
// (joliet true) Volume Descriptor (8.4, 8.5) of a volume of total sectors.
// The two differ in type, escape sequences, character set (UCS-2 big
// endian for Joliet) and the root directory and path tables they point
// at.
func descriptor(v Volume, total uint32, joliet bool) []byte {
	b := make([]byte, SectorSize)
	fill, typ, root, lpath, mpath := fillA, byte(1), uint32(isoRoot), uint32(isoLPath), uint32(isoMPath)
	if joliet {
		fill, typ, root, lpath, mpath = fillUCS2, 2, jolRoot, jolLPath, jolMPath
		copy(b[88:], "%/E") // UCS-2 level 3
	}
	b[0] = typ
	copy(b[1:6], "CD001")
	b[6] = 1
	fill(b[8:40], systemID)
	fill(b[40:72], v.Label)
	putBoth32(b[80:], total)
	putBoth16(b[120:], 1)          // volume set size
	putBoth16(b[124:], 1)          // volume sequence number
	putBoth16(b[128:], SectorSize) // logical block size
	putBoth32(b[132:], pathTableSz)
	binary.LittleEndian.PutUint32(b[140:], lpath)
	binary.BigEndian.PutUint32(b[148:], mpath)
	copy(b[156:190], dirRecord{extent: root, size: SectorSize, dir: true, ident: []byte{0}}.encode(v.Time))
	for _, f := range [][2]int{{190, 318}, {318, 446}, {446, 574}, {702, 739}, {739, 776}, {776, 813}} {
		fill(b[f[0]:f[1]], "") // volume set, publisher, preparer; copyright, abstract, bibliographic files
	}
	fill(b[574:702], applicationID)
	copy(b[813:], volumeDate(v.Time)) // creation
	copy(b[830:], volumeDate(v.Time)) // modification
	copy(b[847:], unsetDate())        // expiration
	copy(b[864:], volumeDate(v.Time)) // effective
	b[881] = 1                        // file structure version
	return b
}

// terminator is the Volume Descriptor Set Terminator (8.3).
func terminator() []byte {
	b := make([]byte, SectorSize)
	b[0] = 255
	copy(b[1:6], "CD001")
	b[6] = 1
	return b
}
