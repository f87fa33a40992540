// Package qcow2 is a thin adapter over qemu-img: it creates, inspects,
// converts and grows disk images. Arguments are passed as a slice (never
// through a shell), and every file it makes is written under a temporary
// name in the destination's directory and renamed when complete, so a
// crash never leaves a half-made disk under the final name.
package qcow2

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// Formats qemu-img reports and writes.
const (
	FormatQCOW2 = "qcow2"
	FormatRaw   = "raw"
)

// ErrShrink is returned by Resize for a size below the current one.
var ErrShrink = errors.New("shrinking a disk is not supported")

// Image is what qemu-img info reports about a file.
type Image struct {
	Format      string `json:"format"`
	VirtualSize int64  `json:"virtual-size"`
	ActualSize  int64  `json:"actual-size"`
	BackingFile string `json:"backing-filename,omitempty"`
	// BackingFormat is the format recorded for the backing file, if any.
	BackingFormat string `json:"backing-filename-format,omitempty"`
}

// Binary is the qemu-img executable used; tests may point it elsewhere.
var Binary = "qemu-img"

// run runs qemu-img with args and returns its standard output; the error
// carries its standard error.
func run(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, Binary, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("qemu-img %s: %w: %s", args[0], err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// Info inspects path with qemu-img info. Without a backing file nothing
// else (such as a backing chain) is opened. It reads with -U (force-share)
// so that a disk a running QEMU holds locked can still be inspected; the
// header fields it reports do not change under a running guest except by
// an online resize.
func Info(ctx context.Context, path string) (Image, error) {
	out, err := run(ctx, "info", "-U", "--output=json", "--", path)
	if err != nil {
		return Image{}, err
	}
	var img Image
	if err := json.Unmarshal(out, &img); err != nil {
		return Image{}, fmt.Errorf("qemu-img info %s: decode: %w", path, err)
	}
	return img, nil
}

// tempName returns an unused name beside path for a file to be renamed to
// path when complete. The name starts with "." and ends with ".tmp" so
// that IsTemp recognizes leftovers.
func tempName(path string) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return "", err
	}
	name := f.Name()
	f.Close()
	return name, nil
}

// IsTemp reports whether name (a base name) is a temporary file of this
// package or of a caller using TempName.
func IsTemp(name string) bool { return strings.HasPrefix(name, ".") && strings.HasSuffix(name, ".tmp") }

// TempName is tempName for callers that stream a file themselves: the
// returned (existing, empty) file should be renamed to path when complete
// and removed otherwise.
func TempName(path string) (string, error) { return tempName(path) }

// commit renames tmp to path, or removes tmp when err is set. The file is
// flushed before the rename and the directory after it: otherwise a power
// loss may leave path naming an empty or partial file (qemu-img does not
// fsync), or the old file back under path.
func commit(tmp, path string, err error) error {
	if err == nil {
		err = Sync(tmp)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return &pathError{err: err, tmp: tmp, path: path}
	}
	if err := Sync(filepath.Dir(path)); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// Sync flushes path, a file or a directory (its entries: a rename or a
// new file in it), to stable storage. A variable so that tests can see
// what is flushed when.
var Sync = func(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	return errors.Join(f.Sync(), f.Close())
}

// pathError names path where err names its random temporary file, so the
// same failure gives the same message every time: a reconciler writing it
// to status then sees nothing new and does not rewrite the object (each
// write would trigger the next attempt at once, past the retry backoff).
type pathError struct {
	err       error
	tmp, path string
}

func (e *pathError) Error() string { return strings.ReplaceAll(e.err.Error(), e.tmp, e.path) }
func (e *pathError) Unwrap() error { return e.err }

// Create makes a qcow2 of sizeBytes at path. With backing set the new file
// is an overlay of backing (whose format is detected), and sizeBytes may be
// 0 to take the backing file's size.
func Create(ctx context.Context, path string, sizeBytes int64, backing string) error {
	tmp, err := tempName(path)
	if err != nil {
		return err
	}
	args := []string{"create", "-q", "-f", FormatQCOW2}
	if backing != "" {
		b, err := Info(ctx, backing)
		if err != nil {
			return commit(tmp, path, err)
		}
		args = append(args, "-b", backing, "-F", b.Format)
	}
	args = append(args, "--", tmp)
	if sizeBytes > 0 || backing == "" {
		args = append(args, strconv.FormatInt(sizeBytes, 10))
	}
	_, err = run(ctx, args...)
	return commit(tmp, path, err)
}

// Convert writes src (its format detected, then named explicitly) in
// toFormat to dst; src is left as it is.
func Convert(ctx context.Context, src, dst, toFormat string) error {
	img, err := Info(ctx, src)
	if err != nil {
		return err
	}
	tmp, err := tempName(dst)
	if err != nil {
		return err
	}
	_, err = run(ctx, "convert", "-q", "-f", img.Format, "-O", toFormat, "--", src, tmp)
	return commit(tmp, dst, err)
}

// Resize grows the image at path to sizeBytes; the same size is a no-op
// and a smaller one is ErrShrink. Growing a qcow2 only rewrites its
// header, so it is done in place.
func Resize(ctx context.Context, path string, sizeBytes int64) error {
	img, err := Info(ctx, path)
	if err != nil {
		return err
	}
	switch {
	case sizeBytes == img.VirtualSize:
		return nil
	case sizeBytes < img.VirtualSize:
		return fmt.Errorf("%w: %s is %d bytes, asked for %d", ErrShrink, path, img.VirtualSize, sizeBytes)
	}
	_, err = run(ctx, "resize", "-q", "-f", img.Format, "--", path, strconv.FormatInt(sizeBytes, 10))
	return err
}

// Rebase makes the qcow2 at path an overlay of backing (a qcow2) without
// reading either the old backing file or the new one (qemu-img rebase -u):
// only the header's reference changes. It is right only when backing has
// the very content of the old backing file, as the same image entity's
// copy on another node has (its sha256 is checked when it is fetched).
func Rebase(ctx context.Context, path, backing string) error {
	_, err := run(ctx, "rebase", "-u", "-f", FormatQCOW2, "-b", backing, "-F", FormatQCOW2, "--", path)
	return err
}

// ConvertOnto writes src (a qcow2 overlay) as a qcow2 at dst whose
// backing file is backing (a qcow2 that src's chain ends on; "" for none):
// dst holds what src's chain has that backing does not. It takes a disk
// out of a chain it must not depend on, onto that chain's root. (Not
// qemu-img convert -B, which copies only what the top file allocates and
// would lose what the files between hold.)
func ConvertOnto(ctx context.Context, src, dst, backing string) error {
	tmp, err := tempName(dst)
	if err != nil {
		return err
	}
	if err := copyFile(src, tmp); err != nil {
		return commit(tmp, dst, err)
	}
	args := []string{"rebase", "-q", "-f", FormatQCOW2, "-b", backing}
	if backing != "" {
		args = append(args, "-F", FormatQCOW2)
	}
	_, err = run(ctx, append(args, "--", tmp)...)
	return commit(tmp, dst, err)
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}
