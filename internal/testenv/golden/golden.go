// Package golden compares what a test rendered with a file under the test
// package's testdata/ directory, and rewrites the file instead when the
// test runs with -update (go test ./pkg -update). Pure renderers (QEMU
// argv, rulesets, cloud-init files, ISO descriptors) are tested this way.
package golden

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// Assert compares got with testdata/file, or rewrites that file under
// -update. A missing file fails with how to create it.
func Assert[T ~string | ~[]byte](t testing.TB, file string, got T) {
	t.Helper()
	path := filepath.Join("testdata", file)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal([]byte(got), want) {
		t.Errorf("%s differs (go test -update rewrites it):\n--- got\n%s--- want\n%s", path, got, want)
	}
}
