package cli

import (
	"os"
	"path/filepath"
	"testing"
)

// TestMain keeps the tests off the developer's own contexts file
// (~/.config/humstack/config): a current context there would otherwise
// be used by every test that gives no server flags.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "humcli-contexts")
	if err != nil {
		panic(err)
	}
	os.Setenv(contextsEnv, filepath.Join(dir, "config"))
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
