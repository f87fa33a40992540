package cloudinit

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/host/cloudinit/iso9660"
)

// Seed is the content of a NoCloud seed. NetworkConfig may be nil: the
// guest then falls back to its image's network defaults.
type Seed struct {
	MetaData      []byte
	UserData      []byte
	NetworkConfig []byte
}

// WriteISO writes the seed as the ISO 9660 image labelled "cidata" that
// cloud-localds would write: Rock Ridge and Joliet names, padding (see
// iso9660.PadSectors for why busybox needs it). The image is a function of
// the seed alone: its dates come from seedTime, not from the clock.
func WriteISO(w io.Writer, s Seed) error {
	if len(s.MetaData) == 0 || len(s.UserData) == 0 {
		return fmt.Errorf("write seed iso: meta-data and user-data are required: %w", api.ErrInvalid)
	}
	files := []iso9660.File{{Name: MetaDataFile, Data: s.MetaData}, {Name: UserDataFile, Data: s.UserData}}
	if s.NetworkConfig != nil {
		files = append(files, iso9660.File{Name: NetworkConfigFile, Data: s.NetworkConfig})
	}
	if err := iso9660.Write(w, iso9660.Volume{Label: VolumeLabel, Time: seedTime(s), Files: files}); err != nil {
		return fmt.Errorf("write seed iso: %w", err)
	}
	return nil
}

// seedEpoch and seedSpan bound the seed's dates: within ten years from
// 2020, so they look like dates to a human reading isoinfo.
var (
	seedEpoch = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	seedSpan  = uint64(10 * 365 * 24 * time.Hour / (10 * time.Millisecond))
)

// seedTime is the date recorded in the seed's ISO: derived from a hash of
// the three files, to the hundredth of a second the volume descriptor
// holds. A date from the inputs keeps the image reproducible, and since
// blkid and udev make the ISO's UUID from this date, different seeds get
// different UUIDs, as they do with cloud-localds.
func seedTime(s Seed) time.Time {
	h := sha256.New()
	for _, b := range [][]byte{s.MetaData, s.UserData, s.NetworkConfig} {
		var n [9]byte // length-prefixed, so moving bytes between files changes the hash
		binary.BigEndian.PutUint64(n[:8], uint64(len(b)))
		if b == nil {
			n[8] = 1
		}
		h.Write(n[:])
		h.Write(b)
	}
	v := binary.BigEndian.Uint64(h.Sum(nil)) % seedSpan
	return seedEpoch.Add(time.Duration(v) * 10 * time.Millisecond)
}

// WriteISOFile writes the seed ISO to path atomically: a guest started
// concurrently never sees a half-written seed.
func WriteISOFile(path string, s Seed) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), ".seed-*.iso")
	if err != nil {
		return fmt.Errorf("write seed iso: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := WriteISO(f, s); err != nil {
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		return fmt.Errorf("write seed iso: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write seed iso: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write seed iso: %w", err)
	}
	return nil
}
