package iso9660

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/humstack/humstack/api"
)

// SectorSize is the logical block size of every image written here.
const SectorSize = 2048

// Fixed sectors of the layout described in the package doc.
const (
	pvdSector   = 16
	svdSector   = 17
	termSector  = 18
	isoLPath    = 19
	isoMPath    = 20
	jolLPath    = 21
	jolMPath    = 22
	isoRoot     = 23
	jolRoot     = 24
	ceSector    = 25
	firstData   = 26
	pathTableSz = 10
)

// PadSectors is the zero padding after the last file: genisoimage's -pad.
//
// It also keeps every image larger than 0x11000 (68 KiB). busybox's
// volume_id (findfs, mount LABEL=, blkid) first reads that much from the
// device's start into its superblock buffer, before it tries ISO 9660; a
// short read sets the probe's error flag, and volume_id_probe_all stops
// at the first probe after it. So on a device smaller than 68 KiB the
// ISO 9660 probe never runs, and a 45 KB seed (what kdomanski/iso9660
// wrote) has no label for busybox, while libblkid, which reads only what
// each probe needs, finds it.
const PadSectors = 150

// File is a regular file in the root directory.
type File struct {
	// Name is the Rock Ridge and Joliet name: 1 to 30 characters from
	// a-z, 0-9, "-", "_" and at most one ".", not starting with ".".
	Name string
	Data []byte
}

// Volume is the content of an image.
type Volume struct {
	// Label is the volume identifier, 1 to 16 characters from a-z, A-Z,
	// 0-9, "_" and "-", stored as given (cloud-init and findfs compare
	// "cidata" case-sensitively) in both descriptors.
	Label string
	// Time is every date in the image.
	Time  time.Time
	Files []File
}

var (
	nameRE  = regexp.MustCompile(`^[a-z0-9_-][a-z0-9_-]*(\.[a-z0-9_-]*)?$`)
	labelRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,16}$`)
	// ErrInvalid wraps every error about a Volume Write cannot represent;
	// it is an api.ErrInvalid.
	ErrInvalid = fmt.Errorf("iso9660: volume: %w", api.ErrInvalid)
)

// isoName is a file's primary identifier: uppercase, with the separator
// "." ISO 9660 requires and the version ";1".
func isoName(name string) string {
	n := strings.ToUpper(name)
	if !strings.Contains(n, ".") {
		n += "."
	}
	return n + ";1"
}

func (v Volume) validate() error {
	if !labelRE.MatchString(v.Label) {
		return fmt.Errorf("%w: label %q", ErrInvalid, v.Label)
	}
	if y := v.Time.UTC().Year(); y < 1970 || y > 2155 {
		return fmt.Errorf("%w: time %s outside what a directory record holds", ErrInvalid, v.Time)
	}
	seen := map[string]bool{}
	for _, f := range v.Files {
		if len(f.Name) > 30 || !nameRE.MatchString(f.Name) {
			return fmt.Errorf("%w: file name %q", ErrInvalid, f.Name)
		}
		if seen[f.Name] {
			return fmt.Errorf("%w: file %q twice", ErrInvalid, f.Name)
		}
		seen[f.Name] = true
		if int64(len(f.Data)) > math.MaxUint32 {
			return fmt.Errorf("%w: file %q larger than 4 GiB", ErrInvalid, f.Name)
		}
	}
	return nil
}

// placed is a file with its first sector.
type placed struct {
	File
	extent uint32
}

func sectors(n int) uint32 { return uint32((n + SectorSize - 1) / SectorSize) }

// Write writes the image of v to w.
func Write(w io.Writer, v Volume) error {
	if err := v.validate(); err != nil {
		return err
	}
	// Data in name order: the image does not depend on the files' order.
	sorted := slices.SortedFunc(slices.Values(v.Files), func(a, b File) int { return strings.Compare(a.Name, b.Name) })
	files := make([]placed, len(sorted))
	next := uint32(firstData)
	for i, f := range sorted {
		files[i] = placed{File: f, extent: next}
		next += sectors(len(f.Data))
	}
	total := next + PadSectors
	isoDir, err := primaryDir(files, v.Time)
	if err != nil {
		return err
	}
	jolDir, err := jolietDir(files, v.Time)
	if err != nil {
		return err
	}
	img := make([]byte, int(firstData)*SectorSize)
	copy(sector(img, pvdSector), descriptor(v, total, false))
	copy(sector(img, svdSector), descriptor(v, total, true))
	copy(sector(img, termSector), terminator())
	copy(sector(img, isoLPath), pathTable(isoRoot, false))
	copy(sector(img, isoMPath), pathTable(isoRoot, true))
	copy(sector(img, jolLPath), pathTable(jolRoot, false))
	copy(sector(img, jolMPath), pathTable(jolRoot, true))
	copy(sector(img, isoRoot), isoDir)
	copy(sector(img, jolRoot), jolDir)
	copy(sector(img, ceSector), erEntry())
	if _, err := w.Write(img); err != nil {
		return fmt.Errorf("iso9660: %w", err)
	}
	for _, f := range files {
		if _, err := w.Write(f.Data); err != nil {
			return fmt.Errorf("iso9660: %w", err)
		}
		pad := int(sectors(len(f.Data)))*SectorSize - len(f.Data)
		if _, err := w.Write(make([]byte, pad)); err != nil {
			return fmt.Errorf("iso9660: %w", err)
		}
	}
	if _, err := w.Write(make([]byte, PadSectors*SectorSize)); err != nil {
		return fmt.Errorf("iso9660: %w", err)
	}
	return nil
}

func sector(img []byte, n int) []byte { return img[n*SectorSize : (n+1)*SectorSize] }

// primaryDir is the root directory of the primary tree with Rock Ridge
// entries, its records sorted by ISO 9660 identifier (9.3).
func primaryDir(files []placed, t time.Time) ([]byte, error) {
	files = slices.Clone(files) // the caller writes the data in extent order
	sort.Slice(files, func(i, j int) bool { return isoLess(isoName(files[i].Name), isoName(files[j].Name)) })
	dirSU := func() []byte {
		return cat(rrEntry(rrPX|rrTF), pxEntry(dirMode, 2), tfEntry(t))
	}
	dot := cat(spEntry(), dirSU(), ceEntry(ceSector, 0, uint32(len(erEntry()))))
	recs := []dirRecord{
		{extent: isoRoot, size: SectorSize, dir: true, ident: []byte{0}, su: dot},
		{extent: isoRoot, size: SectorSize, dir: true, ident: []byte{1}, su: dirSU()},
	}
	for _, f := range files {
		su := cat(rrEntry(rrPX|rrNM|rrTF), nmEntry(f.Name), pxEntry(fileMode, 1), tfEntry(t))
		recs = append(recs, dirRecord{extent: f.extent, size: uint32(len(f.Data)), ident: []byte(isoName(f.Name)), su: su})
	}
	return directory(recs, t)
}

// jolietDir is the root directory of the Joliet tree, sorted by the UCS-2
// names (byte order of big-endian UCS-2 is code point order).
func jolietDir(files []placed, t time.Time) ([]byte, error) {
	files = slices.Clone(files)
	sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
	recs := []dirRecord{
		{extent: jolRoot, size: SectorSize, dir: true, ident: []byte{0}},
		{extent: jolRoot, size: SectorSize, dir: true, ident: []byte{1}},
	}
	for _, f := range files {
		recs = append(recs, dirRecord{extent: f.extent, size: uint32(len(f.Data)), ident: ucs2(f.Name)})
	}
	return directory(recs, t)
}

// directory encodes the records into the directory's one sector.
func directory(recs []dirRecord, t time.Time) ([]byte, error) {
	var b bytes.Buffer
	for _, r := range recs {
		e := r.encode(t)
		if len(e) > 255 {
			return nil, fmt.Errorf("%w: directory record of %d bytes", ErrInvalid, len(e))
		}
		b.Write(e)
	}
	if b.Len() > SectorSize {
		return nil, fmt.Errorf("%w: %d files do not fit in a one-sector root directory", ErrInvalid, len(recs)-2)
	}
	return b.Bytes(), nil
}

// isoLess orders identifiers as 9.3 does for files: by name, then by
// extension, each padded with spaces (version numbers are all 1).
func isoLess(a, b string) bool {
	an, ae, _ := strings.Cut(strings.TrimSuffix(a, ";1"), ".")
	bn, be, _ := strings.Cut(strings.TrimSuffix(b, ";1"), ".")
	if c := comparePadded(an, bn); c != 0 {
		return c < 0
	}
	return comparePadded(ae, be) < 0
}

func comparePadded(a, b string) int {
	n := max(len(a), len(b))
	return strings.Compare(a+strings.Repeat(" ", n-len(a)), b+strings.Repeat(" ", n-len(b)))
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
