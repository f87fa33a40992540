package snapshot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/host/qcow2"
)

// copyDisk copies disk group/namespace/id into dir as the snapshot's disk
// file i. The copy keeps an image entity as its backing file; a disk that
// is itself an overlay of a snapshot's file is written onto that file's
// own root instead, so that the new snapshot never needs the old one.
func (n *Node) copyDisk(ctx context.Context, group, namespace, id, dir string, i int) (api.SnapshotFile, error) {
	src := n.cfg.Disks.Path(group, namespace, id)
	if _, err := os.Stat(src); errors.Is(err, fs.ErrNotExist) {
		return api.SnapshotFile{}, failf("disk %s/%s has no file on node %s", namespace, id, n.cfg.Node)
	}
	img, err := qcow2.Info(ctx, src)
	if err != nil {
		return api.SnapshotFile{}, err
	}
	dst := filepath.Join(dir, fmt.Sprintf(api.SnapshotDiskFileFmt, i))
	backing := img.BackingFile
	entity := n.cfg.Disks.BackingEntity(backing)
	switch {
	case backing == "" || entity != "":
		if err := copyFile(src, dst); err != nil {
			return api.SnapshotFile{}, err
		}
	case n.isSnapshotFile(backing):
		root, err := qcow2.Info(ctx, backing)
		if err != nil {
			return api.SnapshotFile{}, err
		}
		if err := qcow2.ConvertOnto(ctx, src, dst, root.BackingFile); err != nil {
			return api.SnapshotFile{}, err
		}
		entity = n.cfg.Disks.BackingEntity(root.BackingFile)
	default:
		return api.SnapshotFile{}, failf("disk %s/%s has backing file %s, which is neither an image entity nor a snapshot", namespace, id, backing)
	}
	f, err := describe(dst, id)
	f.ImageEntity = entity
	return f, err
}

// isSnapshotFile says whether path is a file of a snapshot this node holds
// or caches.
func (n *Node) isSnapshotFile(path string) bool {
	for _, root := range []string{n.snapshotsDir(), n.cacheDir()} {
		if strings.HasPrefix(path, root+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

// copyFile copies src to dst and syncs it. The disk is quiet (not
// attached to a running VM, or its VM is paused with its disks flushed).
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Sync()
	}
	return errors.Join(err, out.Close())
}

// describe is the record of a snapshot file: its name, size and sha256.
func describe(path, blockStorageID string) (api.SnapshotFile, error) {
	f := api.SnapshotFile{File: filepath.Base(path), BlockStorageID: blockStorageID}
	sum, size, err := hashFile(path)
	f.SHA256, f.Size = sum, size
	return f, err
}

func hashFile(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	return hex.EncodeToString(h.Sum(nil)), n, err
}

// files are the names of a snapshot's files: disks by position, then
// memory ("" when none). A name that is not one the agent writes (the
// status is only data: it could name "../..") is an error, never joined
// to a directory.
func files(st *api.SnapshotStatus) (disks []string, memory string, err error) {
	for _, d := range st.Disks {
		if !validFile(d.File) {
			return nil, "", fmt.Errorf("snapshot names disk file %q: %w", d.File, api.ErrInvalid)
		}
		disks = append(disks, d.File)
	}
	if st.Memory != nil {
		if st.Memory.File != api.SnapshotMemoryFile {
			return nil, "", fmt.Errorf("snapshot names memory file %q: %w", st.Memory.File, api.ErrInvalid)
		}
		memory = st.Memory.File
	}
	return disks, memory, nil
}

// validFile says whether name is a snapshot file name a request may ask
// for (the node listener's route).
func validFile(name string) bool {
	if name == api.SnapshotMemoryFile {
		return true
	}
	var i int
	_, err := fmt.Sscanf(name, api.SnapshotDiskFileFmt, &i)
	return err == nil && i >= 0 && fmt.Sprintf(api.SnapshotDiskFileFmt, i) == name
}
