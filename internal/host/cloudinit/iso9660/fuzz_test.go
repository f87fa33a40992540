package iso9660

import (
	"bytes"
	"errors"
	"maps"
	"testing"
	"time"
)

// FuzzWrite: whatever names and contents Write accepts, the Rock Ridge and
// Joliet trees read back exactly those files, and what it refuses it
// refuses with ErrInvalid.
func FuzzWrite(f *testing.F) {
	f.Add("meta-data", "user-data", "network-config", []byte("a"), []byte{}, int64(0))
	f.Add("a.b", "a_b", "ab", bytes.Repeat([]byte{1}, 5000), []byte("x"), int64(1<<40))
	f.Fuzz(func(t *testing.T, n1, n2, n3 string, d1, d2 []byte, ns int64) {
		v := Volume{Label: "cidata", Time: time.Unix(0, 0).Add(time.Duration(ns)),
			Files: []File{{Name: n1, Data: d1}, {Name: n2, Data: d2}, {Name: n3, Data: d1}}}
		var b bytes.Buffer
		err := Write(&b, v)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Write: %v, not ErrInvalid", err)
			}
			return
		}
		img := b.Bytes()
		want := map[string][]byte{n1: d1, n2: d2, n3: d1}
		rock := filesOf(t, img, rootOf(t, img, pvdSector), func(e entry) string { return string(e.su["NM"][1:]) })
		joliet := filesOf(t, img, rootOf(t, img, svdSector), func(e entry) string { return fromUCS2(e.ident) })
		if !maps.EqualFunc(rock, want, bytes.Equal) || !maps.EqualFunc(joliet, want, bytes.Equal) {
			t.Fatalf("files %v / %v, want %v", keys(rock), keys(joliet), keys(want))
		}
	})
}
