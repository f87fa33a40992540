package cloudinit

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/humstack/humstack/internal/testenv/golden"

	"github.com/humstack/humstack/api"
)

// testSeed is the seed of the ISO tests; its descriptors are pinned in
// testdata/seed-iso-descriptors.golden.
var testSeed = Seed{
	MetaData:      []byte("instance-id: i-1\nlocal-hostname: web-1\n"),
	UserData:      []byte("#cloud-config\n"),
	NetworkConfig: []byte("version: 1\nconfig: []\n"),
}

func writeSeedISO(t *testing.T, s Seed) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := WriteISO(&b, s); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestISODescriptors pins the volume descriptors: the primary one, the
// Joliet supplementary one and the terminator, decoded field by field
// (go test -update rewrites the golden file after a deliberate change).
func TestISODescriptors(t *testing.T) {
	img := writeSeedISO(t, testSeed)
	var out strings.Builder
	for sec := 16; ; sec++ {
		vd := img[sec*2048 : (sec+1)*2048]
		out.WriteString(describeVD(sec, vd))
		if vd[0] == 255 {
			break
		}
	}
	golden.Assert(t, "seed-iso-descriptors.golden", []byte(out.String()))
}

// describeVD decodes the fields of a volume descriptor that readers use.
func describeVD(sec int, b []byte) string {
	var s strings.Builder
	fmt.Fprintf(&s, "sector %d: type %d, id %q, version %d\n", sec, b[0], b[1:6], b[6])
	if b[0] == 255 {
		fmt.Fprintf(&s, "  rest zero: %v\n", bytes.Count(b[7:], []byte{0}) == len(b)-7)
		return s.String()
	}
	text := func(f []byte) string { return strings.TrimRight(string(f), " ") }
	if b[0] == 2 {
		text = func(f []byte) string {
			u := make([]uint16, len(f)/2)
			for i := range u {
				u[i] = binary.BigEndian.Uint16(f[2*i:])
			}
			return "ucs2:" + strings.TrimRight(string(utf16.Decode(u)), " ")
		}
	}
	le32, be32 := binary.LittleEndian.Uint32, binary.BigEndian.Uint32
	both := func(f []byte) string { return fmt.Sprintf("%d/%d", le32(f), be32(f[4:])) }
	both16 := func(f []byte) string {
		return fmt.Sprintf("%d/%d", binary.LittleEndian.Uint16(f), binary.BigEndian.Uint16(f[2:]))
	}
	root := b[156:190]
	for _, l := range [][2]string{
		{"system id", text(b[8:40])},
		{"volume id", text(b[40:72])},
		{"volume space size", both(b[80:88])},
		{"escape sequences", fmt.Sprintf("%q", bytes.TrimRight(b[88:120], "\x00"))},
		{"volume set size", both16(b[120:124])},
		{"volume sequence number", both16(b[124:128])},
		{"logical block size", both16(b[128:132])},
		{"path table size", both(b[132:140])},
		{"path table L, M", fmt.Sprintf("%d, %d", le32(b[140:]), be32(b[148:]))},
		{"root record", fmt.Sprintf("len %d, extent %s, size %s, flags %#02x, ident % x", root[0], both(root[2:10]), both(root[10:18]), root[25], root[33:33+root[32]])},
		{"volume set id", text(b[190:318])},
		{"publisher id", text(b[318:446])},
		{"preparer id", text(b[446:574])},
		{"application id", text(b[574:702])},
		{"created", fmt.Sprintf("%q", b[813:830])},
		{"modified", fmt.Sprintf("%q", b[830:847])},
		{"expires", fmt.Sprintf("%q", b[847:864])},
		{"effective", fmt.Sprintf("%q", b[864:881])},
		{"file structure version", fmt.Sprint(b[881])},
	} {
		fmt.Fprintf(&s, "  %s: %s\n", l[0], l[1])
	}
	return s.String()
}

// TestISOReproducible: the same seed gives the same bytes, whenever it is
// written; another seed gets other dates, hence another blkid UUID.
func TestISOReproducible(t *testing.T) {
	a := writeSeedISO(t, testSeed)
	if b := writeSeedISO(t, testSeed); !bytes.Equal(a, b) {
		t.Fatal("two writes of one seed differ")
	}
	other := testSeed
	other.MetaData = []byte("instance-id: i-2\n")
	b := writeSeedISO(t, other)
	if bytes.Equal(a[16*2048+813:16*2048+830], b[16*2048+813:16*2048+830]) {
		t.Error("two seeds share a creation date (and so a blkid UUID)")
	}
	noNet := testSeed
	noNet.NetworkConfig = nil
	empty := testSeed
	empty.NetworkConfig = []byte{}
	if bytes.Equal(writeSeedISO(t, noNet), writeSeedISO(t, empty)) {
		t.Error("a seed without network-config and one with an empty network-config give the same image")
	}
}

func TestWriteISOFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "seed.iso")
	if err := WriteISOFile(path, testSeed); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(raw, writeSeedISO(t, testSeed)) {
		t.Error("the file differs from WriteISO's image")
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("seed file mode %v (%v), want 0644: QEMU may run as another user", fi.Mode(), err)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".seed-*")); len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
}

func TestWriteISOWithoutNetworkConfig(t *testing.T) {
	s := testSeed
	s.NetworkConfig = nil
	if img := writeSeedISO(t, s); bytes.Contains(img, []byte(NetworkConfigFile)) {
		t.Error("a seed without network-config has a network-config file")
	}
	for _, s := range []Seed{{UserData: []byte("x")}, {MetaData: []byte("x")}} {
		if err := WriteISO(io.Discard, s); !errors.Is(err, api.ErrInvalid) {
			t.Errorf("WriteISO(%+v) = %v, want ErrInvalid", s, err)
		}
	}
	if err := WriteISOFile(filepath.Join(t.TempDir(), "none", "seed.iso"), testSeed); err == nil {
		t.Error("WriteISOFile into a missing directory succeeded")
	}
}
