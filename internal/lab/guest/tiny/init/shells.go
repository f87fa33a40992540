package main

import (
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// consoleTTYs get a root shell each, respawned when it exits: the serial
// line (what the serial console and its log carry) and the first virtual
// terminal (what VGA, hence VNC, shows). The guest is a test machine: who
// may reach its consoles is decided by the API server's console
// authorization, not by a login prompt here.
var consoleTTYs = []string{"/dev/ttyS0", "/dev/tty1"}

// respawnDelay keeps a shell that exits at once (a tty that went away)
// from spinning.
const respawnDelay = time.Second

// children maps the PIDs init must restart when they exit to what
// restarts them. mu is held by spawn from Start until the PID is
// recorded, and by reap around each wait, so that no shell can be reaped
// before it is known.
var (
	mu       sync.Mutex
	children = map[int]func(){}
	stopping bool
)

// startShells starts a shell on every console that exists.
func startShells(log *slog.Logger, host string) {
	for _, tty := range consoleTTYs {
		if err := spawnShell(tty, host); err != nil {
			log.Error("console shell", "tty", tty, "err", err)
		}
	}
}

// spawnShell starts busybox sh on tty as its controlling terminal, in a
// session of its own (job control and ^C work), and records it for
// respawning. tty1 first gets a banner: a VNC viewer sees at once which
// guest it shows.
func spawnShell(tty, host string) error {
	f, err := os.OpenFile(tty, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", tty, err)
	}
	defer f.Close() // the shell holds its own descriptors
	if tty != consoleTTYs[0] {
		fmt.Fprintf(f, "\r\nhumstack tiny guest %s (%s)\r\n", host, tty)
	}
	sh := exec.Command("/bin/sh", "-l")
	sh.Dir = "/root"
	sh.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "TERM=linux", `PS1=\h:\w# `}
	sh.Stdin, sh.Stdout, sh.Stderr = f, f, f
	sh.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	mu.Lock()
	defer mu.Unlock()
	if stopping {
		return nil
	}
	if err := sh.Start(); err != nil {
		return fmt.Errorf("start shell on %s: %w", tty, err)
	}
	children[sh.Process.Pid] = func() {
		time.Sleep(respawnDelay)
		if err := spawnShell(tty, host); err != nil {
			slog.Error("console shell", "tty", tty, "err", err)
		}
	}
	return nil
}
