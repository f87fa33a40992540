package lab

import (
	"os/exec"
	"runtime"
	"sync"
	"syscall"
)

// A lab started by a test must not outlive the test process: if the test
// binary dies (a timeout panic, kill -9), its processes are killed by the
// kernel (PR_SET_PDEATHSIG), and what remains (namespaces, the work dir)
// is removed by CleanOrphans. The death signal fires when the *thread*
// that forked the child ends (go.dev/issue/27505), and Go ends a thread
// whenever a goroutine exits while locked to it (as namespace code may
// do), so such children are forked from one thread that never ends.
var (
	spawnOnce sync.Once
	spawnCh   = make(chan func())
)

// startTied starts cmd from the spawner thread with SIGKILL as its parent
// death signal.
func startTied(cmd *exec.Cmd) error {
	spawnOnce.Do(func() {
		go func() {
			runtime.LockOSThread() // never unlocked: this thread lives as long as the process
			for f := range spawnCh {
				f()
			}
		}()
	})
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	errc := make(chan error, 1)
	spawnCh <- func() { errc <- cmd.Start() }
	return <-errc
}
