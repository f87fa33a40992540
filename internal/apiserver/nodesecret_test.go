package apiserver

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadNodeSecret(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if s, err := readNodeSecret(""); s != "" || err != nil {
		t.Errorf("no file: %q %v", s, err)
	}
	if s, err := readNodeSecret(write("ok", "  the-secret\n")); s != "the-secret" || err != nil {
		t.Errorf("file: %q %v, want the trimmed content", s, err)
	}
	if _, err := readNodeSecret(write("empty", "\n")); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty file: %v", err)
	}
	if _, err := readNodeSecret(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "--node-secret-file") {
		t.Errorf("missing file: %v", err)
	}
}
