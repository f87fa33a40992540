package debian

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestMirrorLines(t *testing.T) {
	deb822 := `Types: deb
# a comment
URIs: http://mirror.example/debian/
Suites: bookworm bookworm-updates
Components: main contrib
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://src.example/debian
Suites: bookworm-security
Components: main

Types: deb
URIs: http://disabled.example/debian-security
Suites: bookworm-security
Components: main
Enabled: no

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main
`
	oneLine := "# deb http://old.example/debian bookworm main\n" +
		"deb [arch=amd64 signed-by=/k.gpg] http://one.example/debian bookworm main\n"
	tests := []struct {
		name  string
		files map[string]string
		want  []string
		err   error
	}{
		{"deb822", map[string]string{"sources.list.d/debian.sources": deb822}, []string{
			"deb http://mirror.example/debian bookworm main",
			"deb http://mirror.example/debian bookworm-updates main",
			"deb http://mirror.example/debian-security bookworm-security main",
		}, nil},
		{"one-line first", map[string]string{"sources.list": oneLine, "sources.list.d/debian.sources": deb822}, []string{
			"deb http://one.example/debian bookworm main",
			"deb http://mirror.example/debian bookworm-updates main",
			"deb http://mirror.example/debian-security bookworm-security main",
		}, nil},
		{"ignored extension", map[string]string{"sources.list.d/debian.sources.disabled": deb822}, nil, errNoMirror},
		{"only bookworm", map[string]string{"sources.list": oneLine}, []string{"deb http://one.example/debian bookworm main"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, text := range tt.files {
				p := filepath.Join(dir, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := mirrorLines(dir)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q\nwant %q", got, tt.want)
			}
		})
	}
}
