package lab

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// proc is one process the lab runs inside a namespace. It is recorded in
// the state file, so a later `humlab down` can stop it by PID.
type proc struct {
	Name string   `json:"name"` // "apiserver" or a node name
	NS   string   `json:"ns"`
	Argv []string `json:"argv"` // run as `nsenter --net=/run/netns/NS -- Argv...`
	Log  string   `json:"log"`
	PID  int      `json:"pid,omitempty"`
	// Start is the process's start time (/proc/<pid>/stat field 22): it
	// tells our process from a later one that got the same PID.
	Start uint64 `json:"start,omitempty"`

	cmd  *exec.Cmd     // nil when loaded from a state file
	done chan struct{} // closed when cmd has been waited for
}

// start runs the process, appending its output to its log. nsenter execs
// the program, so the PID is the program's own. It enters the network
// namespace only: unlike `ip netns exec`, which gives the process a mount
// namespace of its own, the process shares the host's mounts, as an agent
// under systemd does, so the namespaces it makes (routers) are visible to
// the host and outlive the agent, and a restarted agent adopts them.
func (p *proc) start(detach bool) error {
	logf, err := os.OpenFile(p.Log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("%s log: %w", p.Name, err)
	}
	cmd := exec.Command("nsenter", append([]string{"--net=" + filepath.Join(netnsDir, p.NS), "--"}, p.Argv...)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: detach}
	start := startTied
	if detach {
		start = (*exec.Cmd).Start // humlab: the lab outlives the command that made it
	}
	if err := start(cmd); err != nil {
		logf.Close()
		return fmt.Errorf("start %s: %w", p.Name, err)
	}
	p.cmd, p.PID, p.done = cmd, cmd.Process.Pid, make(chan struct{})
	p.Start, _ = startTime(p.PID)
	go func() { _ = cmd.Wait(); logf.Close(); close(p.done) }()
	return nil
}

// exited reports whether the process is known to have ended.
func (p *proc) exited() bool {
	if p.cmd == nil {
		st, err := startTime(p.PID)
		return err != nil || st != p.Start
	}
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// kill sends SIGKILL to the process, by PID, and waits for it to end. A
// process loaded from a state file is killed only if its start time still
// matches.
func (p *proc) kill() error {
	if p.PID == 0 {
		return nil
	}
	if p.cmd != nil {
		if !p.exited() {
			_ = p.cmd.Process.Signal(syscall.SIGKILL) // os.Process holds a pidfd: no PID reuse race
		}
		<-p.done
		return nil
	}
	return killVerified(p.PID, func(pid int) bool {
		st, err := startTime(pid)
		return err == nil && st == p.Start
	})
}

// killVerified sends SIGKILL to pid if it (still) passes check, and waits
// up to 5 s for it to end. The check runs after a pidfd is opened, so the
// signal cannot reach a process that got the PID later.
func killVerified(pid int, check func(pid int) bool) error {
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("pidfd %d: %w", pid, err)
	}
	defer unix.Close(fd)
	if !check(pid) {
		return nil
	}
	if err := unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("kill %d: %w", pid, err)
	}
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		n, err := unix.Poll(fds, 100)
		if n > 0 || (err != nil && !errors.Is(err, unix.EINTR)) {
			return nil // readable: the process has exited
		}
	}
	return fmt.Errorf("process %d did not end within 5 s of SIGKILL", pid)
}

// startTime reads field 22 of /proc/<pid>/stat.
func startTime(pid int) (uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	s := string(b)
	// comm (field 2) may hold spaces and parentheses; fields after the
	// last ')' start at field 3.
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 20 {
		return 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	return strconv.ParseUint(f[19], 10, 64)
}

// pidsIn returns the processes (other than this one) whose network
// namespace is one of ids, with the namespace's name.
func pidsIn(ids map[nsID]string) map[int]string {
	found := map[int]string{}
	if len(ids) == 0 {
		return found
	}
	ents, _ := os.ReadDir("/proc")
	self := os.Getpid()
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		if id, err := idOf("/proc/" + e.Name() + "/ns/net"); err == nil {
			if ns, ok := ids[id]; ok {
				found[pid] = ns
			}
		}
	}
	return found
}

// killIn kills every process in the namespaces ids until none is left or
// timeout passes. Whatever runs in a lab namespace was started by the lab
// (or by its agents: VMs), so it is the lab's to stop.
func killIn(ids map[nsID]string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		pids := pidsIn(ids)
		if len(pids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes still in lab namespaces after %v: %v", timeout, pids)
		}
		for pid := range pids {
			_ = killVerified(pid, func(pid int) bool {
				id, err := idOf("/proc/" + strconv.Itoa(pid) + "/ns/net")
				_, ours := ids[id]
				return err == nil && ours
			})
		}
	}
}
