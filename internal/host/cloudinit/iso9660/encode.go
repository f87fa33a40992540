package iso9660

import (
	"encoding/binary"
	"fmt"
	"time"
	"unicode/utf16"
)

// putBoth16 writes v in ISO 9660's both-byte orders (7.2.3): little
// endian, then big endian.
func putBoth16(b []byte, v uint16) {
	binary.LittleEndian.PutUint16(b, v)
	binary.BigEndian.PutUint16(b[2:], v)
}

// putBoth32 writes v in both byte orders (7.3.3).
func putBoth32(b []byte, v uint32) {
	binary.LittleEndian.PutUint32(b, v)
	binary.BigEndian.PutUint32(b[4:], v)
}

func both32(v uint32) []byte {
	b := make([]byte, 8)
	putBoth32(b, v)
	return b
}

// recordDate is the 7-byte date of directory records and Rock Ridge TF
// entries (9.1.5), in UTC (offset 0).
func recordDate(t time.Time) []byte {
	t = t.UTC()
	return []byte{byte(t.Year() - 1900), byte(t.Month()), byte(t.Day()),
		byte(t.Hour()), byte(t.Minute()), byte(t.Second()), 0}
}

// volumeDate is the 17-byte date of volume descriptors (8.4.26.1):
// "YYYYMMDDHHMMSScc" and the offset from UTC in 15-minute units. blkid and
// udev derive the volume's UUID from it.
func volumeDate(t time.Time) []byte {
	t = t.UTC()
	s := fmt.Sprintf("%04d%02d%02d%02d%02d%02d%02d", t.Year(), t.Month(), t.Day(),
		t.Hour(), t.Minute(), t.Second(), t.Nanosecond()/1e7)
	return append([]byte(s), 0)
}

// unsetDate is a volume date that is "not specified" (8.4.26.1).
func unsetDate() []byte {
	return append([]byte("0000000000000000"), 0)
}

// fillA copies s into the field b and pads it with spaces, as a- and
// d-character fields are padded.
func fillA(b []byte, s string) {
	n := copy(b, s)
	for i := n; i < len(b); i++ {
		b[i] = ' '
	}
}

// ucs2 encodes s as UCS-2 big endian, the Joliet character set. Callers
// only pass characters of the Basic Multilingual Plane.
func ucs2(s string) []byte {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		binary.BigEndian.PutUint16(b[2*i:], c)
	}
	return b
}

// fillUCS2 copies s, UCS-2 encoded, into the field b and pads it with
// UCS-2 spaces (00 20), as genisoimage does.
func fillUCS2(b []byte, s string) {
	n := copy(b, ucs2(s))
	for i := n; i+1 < len(b); i += 2 {
		b[i], b[i+1] = 0, ' '
	}
}
