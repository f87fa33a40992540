package main

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"time"
)

const sshWait = 10 * time.Second

// hostKeyTypes are made at boot: both are quick even under TCG. RSA is
// not: dropbear -R makes it only if a client insists on it. Without -R,
// dropbear 2022.83 offers rsa-sha2-256 with no RSA key and aborts the
// connection of a client preferring it (Go's x/crypto/ssh does, after
// ECDSA).
var hostKeyTypes = []string{"ed25519", "ecdsa"}

// startSSH makes the host keys, starts dropbear in the foreground as a
// child of init, and waits until port 22 accepts connections so that the
// ready marker means "SSH works".
func startSSH(log *slog.Logger) error {
	if err := os.MkdirAll("/etc/dropbear", 0o700); err != nil {
		return fmt.Errorf("ssh: %w", err)
	}
	for _, typ := range hostKeyTypes {
		file := "/etc/dropbear/dropbear_" + typ + "_host_key" // dropbear's default paths
		gen := exec.Command("/usr/bin/dropbearkey", "-t", typ, "-f", file)
		if out, err := gen.CombinedOutput(); err != nil {
			return fmt.Errorf("ssh: dropbearkey -t %s: %w: %s", typ, err, out)
		}
	}
	// -F foreground (init reaps it), -E log to the console, -s keys only,
	// -R make missing host keys on demand.
	d := exec.Command("/usr/sbin/dropbear", "-F", "-E", "-s", "-R", "-p", "22")
	d.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root"}
	d.Stdout, d.Stderr = os.Stdout, os.Stdout // files: no copying goroutines to outlive Wait
	if err := d.Start(); err != nil {
		return fmt.Errorf("ssh: start dropbear: %w", err)
	}
	log.Info("dropbear", "pid", d.Process.Pid)
	deadline := time.Now().Add(sshWait)
	for {
		c, err := net.DialTimeout("tcp", "127.0.0.1:22", time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("ssh: dropbear not listening after %s: %w", sshWait, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
