package testenv

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestRequireFailsInCI runs RequireCommands on a missing command in a child
// test process, with and without CI=true, and checks skip vs failure.
func TestRequireFailsInCI(t *testing.T) {
	if os.Getenv("TESTENV_CHILD") == "1" {
		RequireCommands(t, "no-such-command-humstack")
		return
	}
	for _, ci := range []string{"true", ""} {
		cmd := exec.Command(os.Args[0], "-test.run", "^TestRequireFailsInCI$", "-test.v")
		cmd.Env = append(os.Environ(), "TESTENV_CHILD=1", "CI="+ci)
		out, err := cmd.CombinedOutput()
		switch {
		case ci == "true" && (err == nil || !strings.Contains(string(out), "cannot run under CI=true")):
			t.Errorf("CI=true: want a failure, got err=%v\n%s", err, out)
		case ci == "" && (err != nil || !strings.Contains(string(out), "SKIP")):
			t.Errorf("outside CI: want a skip, got err=%v\n%s", err, out)
		}
	}
}
