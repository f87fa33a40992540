package cli

import (
	"strings"
	"testing"
)

func TestLabel(t *testing.T) {
	e := newEnv(t)
	e.mustRun("create", "-f", writeFile(t, "node.yaml", "meta: {apiType: systemv0/node, id: n1, labels: {zone: z1}}\nspec: {address: 172.31.0.2}\n"))
	r := e.mustRun("label", "node", "n1", "rack=a", "gpu=yes", "zone-")
	if !strings.Contains(r.stdout, "node/n1 labeled") && !strings.Contains(r.stdout, "n1 labeled") {
		t.Errorf("label printed %q", r.stdout)
	}
	out := e.mustRun("get", "node", "n1", "-o", "yaml").stdout
	for _, want := range []string{"rack: a", "gpu: \"yes\""} {
		if !strings.Contains(out, want) {
			t.Errorf("node after label lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "zone:") {
		t.Errorf("label zone- left the label:\n%s", out)
	}
}

func TestLabelErrors(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"label", "node", "n1"}, "at least one KEY=VALUE"},
		{[]string{"label", "node", "n1", "noequals"}, `"noequals": want KEY=VALUE`},
		{[]string{"label", "node", "n1", "-"}, "needs a key before the -"},
		{[]string{"label", "node", "missing", "a=b"}, "not found"},
		{[]string{"label", "node", "n1", "=b"}, "want KEY=VALUE"},
	} {
		r := e.run(c.args...)
		if r.code == 0 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%v: want failure with %q, got %s", c.args, c.want, r)
		}
	}
}
