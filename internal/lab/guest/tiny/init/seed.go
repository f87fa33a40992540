package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

const (
	seedLabel = "cidata"
	seedDir   = "/run/seed"
	// seedWait bounds the wait for the seed's device: a SCSI CD-ROM is
	// probed asynchronously after its module is loaded.
	seedWait = 20 * time.Second
)

// readSeed finds the ISO 9660 volume labelled cidata, mounts it read-only
// and parses its files.
func readSeed(log *slog.Logger) (*instance, error) {
	dev, err := waitSeed(seedWait)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(seedDir, 0o755); err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	if err := unix.Mount(dev, seedDir, "iso9660", unix.MS_RDONLY, ""); err != nil {
		return nil, fmt.Errorf("mount seed %s: %w", dev, err)
	}
	log.Info("seed", "device", dev)
	in := &instance{}
	for _, f := range []struct {
		name     string
		parse    func([]byte, *instance) error
		optional bool
	}{
		{"meta-data", parseMetaData, false},
		{"user-data", parseUserData, false},
		{"network-config", parseNetworkConfig, true},
	} {
		b, err := os.ReadFile(filepath.Join(seedDir, f.name))
		if errors.Is(err, fs.ErrNotExist) && f.optional {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("seed: %w", err)
		}
		if err := f.parse(b, in); err != nil {
			return nil, err
		}
	}
	return in, nil
}

// waitSeed scans the block devices until one carries the seed's label.
func waitSeed(timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	for {
		if dev := findSeed(); dev != "" {
			return dev, nil
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("%w after %s (label %q)", errNoSeed, timeout, seedLabel)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// findSeed returns the /dev path of the first whole block device whose ISO
// 9660 volume label is cidata (any case, as cloud-init accepts).
func findSeed() string {
	entries, err := os.ReadDir("/sys/block")
	if err != nil {
		return ""
	}
	for _, e := range entries {
		dev := "/dev/" + e.Name()
		if label, err := isoLabel(dev); err == nil && strings.EqualFold(label, seedLabel) {
			return dev
		}
	}
	return ""
}

// isoLabel reads the volume identifier from the primary volume descriptor
// in sector 16 (ECMA-119 8.4): busybox has no blkid, and this is all that
// finding the seed takes.
func isoLabel(dev string) (string, error) {
	f, err := os.OpenFile(dev, os.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		return "", err
	}
	defer f.Close()
	pvd := make([]byte, 72)
	if _, err := f.ReadAt(pvd, 16*2048); err != nil {
		return "", err
	}
	if pvd[0] != 1 || !bytes.Equal(pvd[1:6], []byte("CD001")) {
		return "", errors.New("not ISO 9660")
	}
	return strings.TrimRight(string(pvd[40:72]), " \x00"), nil
}
