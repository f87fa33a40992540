package iso9660

import (
	"encoding/binary"
	"time"
)

// dirRecord is one directory record (9.1) before encoding.
type dirRecord struct {
	extent uint32 // first sector of the data
	size   uint32 // data length in bytes
	dir    bool
	ident  []byte // file identifier: 0x00 for ".", 0x01 for "..", a name
	su     []byte // system use area (Rock Ridge entries), or nil
}

// encode returns the record: 33 fixed bytes, the identifier, a padding
// byte when the identifier's length is even, the system use area, and a
// final padding byte if needed, since a record's length must be even.
func (r dirRecord) encode(t time.Time) []byte {
	n := 33 + len(r.ident)
	if len(r.ident)%2 == 0 {
		n++
	}
	b := make([]byte, n, n+len(r.su)+1)
	b = append(b, r.su...)
	if len(b)%2 == 1 {
		b = append(b, 0)
	}
	b[0] = byte(len(b))
	putBoth32(b[2:], r.extent)
	putBoth32(b[10:], r.size)
	copy(b[18:25], recordDate(t))
	if r.dir {
		b[25] = 0x02
	}
	putBoth16(b[28:], 1) // volume sequence number
	b[32] = byte(len(r.ident))
	copy(b[33:], r.ident)
	return b
}

// Rock Ridge (RRIP 1.10, "RRIP_1991A", as genisoimage writes it) and SUSP
// entries. Each is "signature, length, version 1, data".
func suspEntry(sig string, data ...[]byte) []byte {
	b := []byte{sig[0], sig[1], 0, 1}
	for _, d := range data {
		b = append(b, d...)
	}
	b[2] = byte(len(b))
	return b
}

// RR flags: which RRIP entries a record carries (the Linux kernel trusts
// them: without the NM bit it ignores the NM entry).
const (
	rrPX = 0x01
	rrNM = 0x08
	rrTF = 0x80
)

// Modes recorded in PX: files read-write for the owner as cloud-localds
// leaves them, directories read and search for everyone.
const (
	fileMode = 0o100644
	dirMode  = 0o040555
)

// The ER entry's texts, those of RRIP 1.10 as genisoimage writes them.
const (
	erID     = "RRIP_1991A"
	erDesc   = "THE ROCK RIDGE INTERCHANGE PROTOCOL PROVIDES SUPPORT FOR POSIX FILE SYSTEM SEMANTICS"
	erSource = "PLEASE CONTACT DISC PUBLISHER FOR SPECIFICATION SOURCE.  SEE PUBLISHER IDENTIFIER IN PRIMARY VOLUME DESCRIPTOR FOR CONTACT INFORMATION."
)

func spEntry() []byte { return suspEntry("SP", []byte{0xBE, 0xEF, 0}) }

func rrEntry(flags byte) []byte { return suspEntry("RR", []byte{flags}) }

func nmEntry(name string) []byte { return suspEntry("NM", []byte{0}, []byte(name)) }

func pxEntry(mode, links uint32) []byte {
	return suspEntry("PX", both32(mode), both32(links), both32(0), both32(0))
}

// tfEntry records modification, access and attribute change times
// (flags 0x0E), all t, in the 7-byte form.
func tfEntry(t time.Time) []byte {
	d := recordDate(t)
	return suspEntry("TF", []byte{0x0E}, d, d, d)
}

func ceEntry(sector, offset, length uint32) []byte {
	return suspEntry("CE", both32(sector), both32(offset), both32(length))
}

func erEntry() []byte {
	return suspEntry("ER", []byte{byte(len(erID)), byte(len(erDesc)), byte(len(erSource)), 1},
		[]byte(erID), []byte(erDesc), []byte(erSource))
}

// pathTable is the one-entry path table of a volume whose only directory
// is the root at sector root (9.4), in little (type L) or big (type M)
// endian.
func pathTable(root uint32, bigEndian bool) []byte {
	b := make([]byte, 10)
	b[0] = 1 // identifier length: the root's identifier is one 0x00
	if bigEndian {
		binary.BigEndian.PutUint32(b[2:], root)
		binary.BigEndian.PutUint16(b[6:], 1)
	} else {
		binary.LittleEndian.PutUint32(b[2:], root)
		binary.LittleEndian.PutUint16(b[6:], 1)
	}
	return b
}
