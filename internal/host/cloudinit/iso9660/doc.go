// Package iso9660 writes the small, flat ISO 9660 images that carry a
// cloud-init NoCloud seed, with the same extensions genisoimage -joliet
// -rock (cloud-localds) writes: Rock Ridge names and attributes in the
// primary tree and a Joliet tree with UCS-2 names. It exists because
// github.com/kdomanski/iso9660 writes neither extension and no padding,
// and its images were not found by busybox findfs (see Write).
//
// The writer is deliberately narrow: one root directory, regular files
// with lowercase portable names, everything in memory. The image is a pure
// function of its input (Volume.Time is the only clock), so the same
// Volume always gives the same bytes.
//
// Layout, in 2048-byte sectors:
//
//	0-15   system area, zero
//	16     Primary Volume Descriptor (label, d-characters kept as given)
//	17     Joliet Supplementary Volume Descriptor (escape %/E, UCS-2 level 3)
//	18     Volume Descriptor Set Terminator
//	19-20  primary path table, type L (little endian) and type M (big endian)
//	21-22  Joliet path table, type L and type M
//	23     primary root directory: ".", ".." and one record per file, each
//	       with SUSP/RRIP system use entries: SP (on "." only), RR, NM
//	       (the name in its original case), PX (mode, links, uid, gid 0),
//	       TF (modify, access, attribute change), and on "." a CE pointing
//	       at the ER entry in sector 25
//	24     Joliet root directory: ".", ".." and the files, names UCS-2 BE
//	       without a version suffix (as genisoimage writes them)
//	25     SUSP continuation area: the ER entry (RRIP_1991A), which tells
//	       Linux to prefer Rock Ridge over Joliet
//	26...  file data, each file from a sector boundary, zero-filled
//	       to the end of its last sector; empty files take no sector
//	last   150 zero sectors of padding (genisoimage -pad), counted in the
//	       volume space size
//
// Primary (ISO 9660) names are the uppercased names with a "." added when
// they have none and the version ";1" ("META-DATA.;1"): Linux shows them
// as "meta-data" even when mounted with norock,nojoliet, which the 8.3
// names of genisoimage ("META_DAT.;1") would not give.
package iso9660
