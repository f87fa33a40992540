package lab_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/humstack/humstack/internal/lab"
	"github.com/humstack/humstack/internal/lab/labtest"
)

func TestMain(m *testing.M) {
	if base := os.Getenv(orphanEnv); base != "" {
		orphanChild(base)
		return
	}
	labtest.Main(m)
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// TestThreeNodesReady brings up the reference lab (Core + 2 System) and
// reads its nodes with the real humcli inside node-a.
func TestThreeNodesReady(t *testing.T) {
	l := labtest.Up(t, lab.Config{})
	out, err := l.Humcli(ctxFor(t, 10*time.Second), "get", "node")
	if err != nil {
		t.Fatal(err)
	}
	rows := strings.Split(strings.TrimSpace(out), "\n")
	if len(rows) != 4 {
		t.Fatalf("want a header and 3 nodes:\n%s", out)
	}
	for i, n := range l.Nodes() {
		f := strings.Fields(rows[i+1])
		if f[0] != n.Name || f[1] != "Ready" || f[2] != n.Address || f[3] != n.Mode {
			t.Errorf("row %d: want %s Ready %s %s, got %q", i+1, n.Name, n.Address, n.Mode, rows[i+1])
		}
	}
	t.Logf("\n%s", out)
}
