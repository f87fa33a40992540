package iso9660

import (
	"bytes"
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
)

var testTime = time.Date(2024, 5, 6, 7, 8, 9, 120_000_000, time.UTC)

func testVolume() Volume {
	return Volume{Label: "cidata", Time: testTime, Files: []File{
		{Name: "user-data", Data: []byte("#cloud-config\n")},
		{Name: "meta-data", Data: bytes.Repeat([]byte("m"), SectorSize+1)}, // two sectors
		{Name: "empty", Data: nil},
		{Name: "network-config", Data: []byte("version: 1\n")},
	}}
}

func write(t *testing.T, v Volume) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, v); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestTrees: the primary tree's Rock Ridge names, the Joliet names and the
// primary identifiers all lead to the same data, and the volume size
// counts every sector written, padding included.
func TestTrees(t *testing.T) {
	v := testVolume()
	img := write(t, v)
	want := map[string][]byte{}
	for _, f := range v.Files {
		want[f.Name] = f.Data
	}
	if n := both(t, img[pvdSector*SectorSize+80:]); int(n)*SectorSize != len(img) {
		t.Errorf("volume space size %d sectors, image %d bytes", n, len(img))
	}
	if len(img) < 0x11000 {
		t.Errorf("image of %d bytes: busybox volume_id cannot probe it", len(img))
	}
	isoRootSec, jolRootSec := rootOf(t, img, pvdSector), rootOf(t, img, svdSector)
	rock := filesOf(t, img, isoRootSec, func(e entry) string {
		if nm := e.su["NM"]; len(nm) > 1 && nm[0] == 0 {
			return string(nm[1:])
		}
		t.Errorf("record %q has no NM entry", e.ident)
		return ""
	})
	joliet := filesOf(t, img, jolRootSec, func(e entry) string { return fromUCS2(e.ident) })
	primary := filesOf(t, img, isoRootSec, func(e entry) string { return string(e.ident) })
	for name, got := range map[string]map[string][]byte{"rock ridge": rock, "joliet": joliet} {
		if !maps.EqualFunc(got, want, bytes.Equal) {
			t.Errorf("%s files %v, want %v", name, keys(got), keys(want))
		}
	}
	for _, n := range []string{"META-DATA.;1", "NETWORK-CONFIG.;1", "USER-DATA.;1", "EMPTY.;1"} {
		if _, ok := primary[n]; !ok {
			t.Errorf("no primary identifier %q in %v", n, keys(primary))
		}
	}
}

// TestRockRidgeRoot: the root's "." record starts with SP and points with
// CE at the ER entry naming RRIP_1991A (without it Linux prefers Joliet);
// every record has RR flags matching its entries and a PX mode.
func TestRockRidgeRoot(t *testing.T) {
	img := write(t, testVolume())
	recs := readDir(t, img, rootOf(t, img, pvdSector))
	if sp := recs[0].su["SP"]; !bytes.Equal(sp, []byte{0xBE, 0xEF, 0}) {
		t.Fatalf("root . has SP % x", sp)
	}
	ce := recs[0].su["CE"]
	if len(ce) != 24 {
		t.Fatalf("root . has CE % x", ce)
	}
	sec, off, n := both(t, ce[0:8]), both(t, ce[8:16]), both(t, ce[16:24])
	er := img[int(sec)*SectorSize+int(off):][:n]
	if string(er[:2]) != "ER" || int(er[2]) != int(n) || !strings.Contains(string(er), "RRIP_1991A") {
		t.Errorf("continuation area %q", er)
	}
	for _, r := range recs {
		flags, want := r.su["RR"], byte(rrPX|rrTF)
		if !r.dir {
			want |= rrNM
		}
		if len(flags) != 1 || flags[0] != want {
			t.Errorf("record %q RR % x, want %02x", r.ident, flags, want)
		}
		if px := r.su["PX"]; len(px) != 32 {
			t.Errorf("record %q PX % x", r.ident, px)
		} else if mode := both(t, px[:8]); (r.dir && mode != dirMode) || (!r.dir && mode != fileMode) {
			t.Errorf("record %q mode %o", r.ident, mode)
		}
	}
}

// TestReproducible: the image depends on the volume only, not on the
// clock or the order of the files.
func TestReproducible(t *testing.T) {
	a := write(t, testVolume())
	time.Sleep(20 * time.Millisecond) // a clock-derived date would change
	v := testVolume()
	v.Files[0], v.Files[3] = v.Files[3], v.Files[0]
	b := write(t, testVolume())
	if !bytes.Equal(a, b) {
		t.Error("two writes of one volume differ")
	}
	if !bytes.Equal(a, write(t, v)) {
		t.Error("reordering the files changed the image")
	}
	v.Time = v.Time.Add(time.Second)
	if bytes.Equal(a, write(t, v)) {
		t.Error("the volume's time is not recorded")
	}
}

func TestWriteRejects(t *testing.T) {
	long := strings.Repeat("a", 31)
	for name, v := range map[string]Volume{
		"label empty":     {Label: "", Time: testTime},
		"label long":      {Label: "abcdefghijklmnopq", Time: testTime},
		"label space":     {Label: "ci data", Time: testTime},
		"name upper":      {Label: "x", Time: testTime, Files: []File{{Name: "Meta"}}},
		"name slash":      {Label: "x", Time: testTime, Files: []File{{Name: "a/b"}}},
		"name dot first":  {Label: "x", Time: testTime, Files: []File{{Name: ".a"}}},
		"name two dots":   {Label: "x", Time: testTime, Files: []File{{Name: "a.b.c"}}},
		"name long":       {Label: "x", Time: testTime, Files: []File{{Name: long}}},
		"name twice":      {Label: "x", Time: testTime, Files: []File{{Name: "a"}, {Name: "a"}}},
		"time before1970": {Label: "x", Time: time.Date(1969, 1, 1, 0, 0, 0, 0, time.UTC)},
		"too many files":  {Label: "x", Time: testTime, Files: manyFiles(40)},
	} {
		if err := Write(&bytes.Buffer{}, v); !errors.Is(err, ErrInvalid) || !errors.Is(err, api.ErrInvalid) {
			t.Errorf("%s: Write = %v, want ErrInvalid", name, err)
		}
	}
}

func manyFiles(n int) []File {
	var fs []File
	for i := range n {
		fs = append(fs, File{Name: strings.Repeat("f", 20) + string(rune('a'+i%26)) + string(rune('a'+i/26))})
	}
	return fs
}

func keys(m map[string][]byte) []string {
	var k []string
	for n := range m {
		k = append(k, n)
	}
	return k
}
