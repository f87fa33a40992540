package storage

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/humstack/humstack/internal/host/qcow2"
	"github.com/humstack/humstack/internal/testenv"
)

// BenchmarkBaseImageDisk makes disks from images of 256 MiB, 1 GiB and
// 2 GiB of (incompressible) data on the node that holds the entity: each
// is a qcow2 overlay, so the time per disk should not grow with the image.
// "copy" is what copying the image instead would cost (what the original
// humstack did), for comparison.
func BenchmarkBaseImageDisk(b *testing.B) {
	testenv.RequireCommands(b, qcow2.Binary)
	env := testenv.Start(b)
	seedObjects(b, env)
	env.Create(b, "meta: {apiType: systemv0/image, id: img, group: g}\nspec: {entityMap: {v1: e1}}")
	env.Create(b, "meta: {apiType: systemv0/imageentity, id: e1, group: g}\nspec: {source: {namespace: ns, blockStorageID: src}}")
	ctx := context.Background()
	for _, size := range []int64{256 << 20, 1 << 30, 2 << 30} {
		name := fmt.Sprintf("image=%dMiB", size>>20)
		n := newNode(b, env, "n1", "", "")
		entFile := n.EntityFile("g", "e1")
		if err := writeImage(ctx, b.TempDir(), entFile, size); err != nil {
			b.Fatal(err)
		}
		sum, err := hashFile(entFile)
		if err != nil {
			b.Fatal(err)
		}
		recordEntity(b, env, "n1", "", sum)
		b.Run(name+"/overlay", func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				bs := imageDisk(fmt.Sprintf("d%d", i), "v1", "4G")
				if _, err := n.Apply(ctx, bs); err != nil || bs.Status.State != StateActive {
					b.Fatalf("disk %d: %s %q %v", i, bs.Status.State, bs.Status.Message, err)
				}
			}
		})
		if size == 2<<30 {
			b.Run(name+"/copy", func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					if err := qcow2.Convert(ctx, entFile, filepath.Join(b.TempDir(), "copy.qcow2"), qcow2.FormatQCOW2); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// writeImage makes a qcow2 at dst holding size bytes of random data.
func writeImage(ctx context.Context, tmp, dst string, size int64) error {
	raw := filepath.Join(tmp, "image.raw")
	f, err := os.Create(raw)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	r := rand.NewChaCha8([32]byte{1})
	buf := make([]byte, 1<<20)
	for written := int64(0); written < size; written += int64(len(buf)) {
		r.Read(buf)
		if _, err := w.Write(buf); err != nil {
			return err
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	f.Close()
	defer os.Remove(raw)
	if err := os.MkdirAll(filepath.Dir(dst), 0o750); err != nil {
		return err
	}
	return qcow2.Convert(ctx, raw, dst, qcow2.FormatQCOW2)
}
