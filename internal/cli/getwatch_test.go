package cli

import (
	"context"
	"strings"
	"testing"

	"github.com/humstack/humstack/internal/testenv"
)

// TestGetWatch: get -w prints get's header and the rows that exist, then
// one row per change with the same columns (no TYPE or REVISION), a
// deleted object marked, until cancelled; with an id, only that object.
func TestGetWatch(t *testing.T) {
	e := newEnv(t)
	e.mustRun("create", "-f", "../../examples/seed/01-group.yaml", "-f", "../../examples/seed/02-namespace.yaml",
		"-f", "../../examples/seed/05-network.yaml")
	e.mustRun("create", "-f", "../../examples/seed/11-virtualmachine.yaml")
	vm2 := strings.Replace(readFile(t, "../../examples/seed/11-virtualmachine.yaml"), "id: vm1", "id: vm2", 1)
	vm2 = strings.Replace(vm2, "ipv4Address: 10.0.0.1", "ipv4Address: 10.0.0.2", 1) // one holder per address
	e.mustRun("create", "-f", writeFile(t, "vm2.yaml", vm2))

	for _, tc := range []struct {
		name string
		args []string
		rows []string // ids of the rows after the header, in order
	}{
		{"all", []string{"get", "vm", "-w", "--g=group1", "--n=ns1"}, []string{"vm1", "vm2", "vm1", "vm1"}},
		{"one id", []string{"get", "vm", "vm1", "--watch", "--g=group1", "--n=ns1"}, []string{"vm1", "vm1", "vm1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.mustRun("apply", "-f", "../../examples/seed/11-virtualmachine.yaml")
			out, errout := &testenv.SyncBuffer{}, &testenv.SyncBuffer{}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan int, 1)
			go func() { done <- Main(ctx, e.args(tc.args...), strings.NewReader(""), out, errout) }()
			start := len(tc.rows) - 2 // the existing rows, before any change
			waitFor(t, "the table", func() bool { return len(lines(out.String())) == 1+start })
			off := strings.Replace(readFile(t, "../../examples/seed/11-virtualmachine.yaml"), "PowerOn", "PowerOff", 1)
			e.mustRun("apply", "-f", writeFile(t, "vm.yaml", off))
			e.mustRun("delete", "vm", "vm1", "--g=group1", "--n=ns1")
			waitFor(t, "two more rows:\n"+out.String(), func() bool { return len(lines(out.String())) == 1+len(tc.rows) })
			cancel()
			if code := <-done; code != 0 {
				t.Fatalf("exit %d: %s%s", code, out, errout)
			}
			ls := lines(out.String())
			header := strings.Fields(ls[0])
			if strings.Join(header, " ") != "ID STATE ACTION NODE VCPUS MEMORY ADDRESSES AGE" {
				t.Fatalf("header %q", ls[0])
			}
			for i, id := range tc.rows {
				f := strings.Fields(ls[1+i])
				if f[0] != id {
					t.Fatalf("row %d is %q, want %s:\n%s", i, ls[1+i], id, out)
				}
			}
			if f := strings.Fields(ls[len(ls)-2]); f[2] != "PowerOff" || len(f) != len(header) {
				t.Errorf("the change's row %q: want PowerOff in the ACTION column", ls[len(ls)-2])
			}
			if last := ls[len(ls)-1]; !strings.HasSuffix(last, "(deleted)") {
				t.Errorf("the deletion's row %q lacks (deleted)", last)
			}
		})
	}
}

func TestGetWatchRefusesYAML(t *testing.T) {
	e := newEnv(t)
	r := e.run("get", "vm", "-w", "-o", "yaml")
	if r.code == 0 || !strings.Contains(r.stderr, "watch virtualmachine -o json") {
		t.Fatalf("%v", r)
	}
}
