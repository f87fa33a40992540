package procfs

import (
	"os"
	"os/exec"
	"testing"
)

func TestRunningWithArg(t *testing.T) {
	if !RunningWithArg(os.Getpid(), os.Args[0]) {
		t.Fatalf("this test process is not running with %q", os.Args[0])
	}
	if RunningWithArg(os.Getpid(), "--no-such-argument") {
		t.Fatal("an argument the command line lacks matched")
	}
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	if !RunningWithArg(pid, "30") {
		t.Fatal("a running child does not match its own argument")
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait() // reaped: /proc/<pid> is gone
	if RunningWithArg(pid, "30") {
		t.Fatal("an exited child still matches")
	}
}
