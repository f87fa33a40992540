package cloudinit

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/kdomanski/iso9660"
)

// Seed is the content of a NoCloud seed. NetworkConfig may be nil: the
// guest then falls back to its image's network defaults.
type Seed struct {
	MetaData      []byte
	UserData      []byte
	NetworkConfig []byte
}

// WriteISO writes the seed as an ISO 9660 image labelled "cidata".
//
// The image has plain ISO 9660 names only: kdomanski/iso9660 writes neither
// Joliet nor Rock Ridge. That is enough because the three names are
// lowercase d1-characters ("meta-data" keeps its hyphen) and Linux shows
// them without the ";1" version suffix, which is all cloud-init needs.
func WriteISO(w io.Writer, s Seed) (err error) {
	if len(s.MetaData) == 0 || len(s.UserData) == 0 {
		return errors.New("write seed iso: meta-data and user-data are required")
	}
	iw, err := iso9660.NewWriter()
	if err != nil {
		return fmt.Errorf("write seed iso: %w", err)
	}
	// The library stages files in a temporary directory; remove it even
	// when writing fails.
	defer func() { err = errors.Join(err, iw.Cleanup()) }()
	files := []struct {
		name string
		data []byte
	}{{MetaDataFile, s.MetaData}, {UserDataFile, s.UserData}, {NetworkConfigFile, s.NetworkConfig}}
	for _, f := range files {
		if f.data == nil {
			continue
		}
		if err := iw.AddFile(bytes.NewReader(f.data), f.name); err != nil {
			return fmt.Errorf("write seed iso: add %s: %w", f.name, err)
		}
	}
	if err := iw.WriteTo(w, VolumeLabel); err != nil {
		return fmt.Errorf("write seed iso: %w", err)
	}
	return nil
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
