package loadtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// Server is one apiserver child process on loopback, with a temp dir of its
// own (data dir and log) that Stop removes.
type Server struct {
	// Addr is the API's host:port (HTTPS), PprofAddr the profiles' (""
	// without Options.Pprof).
	Addr, PprofAddr string
	DataDir         string
	// Client talks to the API as the bootstrap admin.
	Client *Client
	dir    string
	log    string
	cmd    *exec.Cmd
	exited chan struct{}
	err    error // the process's exit, once exited is closed
}

// Options are a Server's deviations from the shipped defaults.
type Options struct {
	// Pprof adds --pprof-address on a second loopback port: the binary
	// must know the flag (the baseline may not).
	Pprof bool
	// Conns bounds the client's connections (its largest concurrency).
	Conns int
}

// Start runs bin as an apiserver with the shipped defaults (HTTPS with the
// cluster CA made at first start, RBAC with the bootstrap admin token,
// metrics and events on, bolt) in a fresh data dir, and returns once it
// answers /healthz. The child gets SIGKILL if the benchmark process dies
// without stopping it (a -timeout panic skips cleanups).
func Start(ctx context.Context, bin string, opts Options) (*Server, error) {
	dir, err := os.MkdirTemp("", "humstack-loadtest-")
	if err != nil {
		return nil, err
	}
	s := &Server{dir: dir, DataDir: filepath.Join(dir, "data"), log: filepath.Join(dir, "apiserver.log"), exited: make(chan struct{})}
	if err := s.start(bin, opts); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	if err := s.waitReady(ctx, opts.Conns); err != nil {
		return nil, errors.Join(err, s.Stop())
	}
	return s, nil
}

func (s *Server) start(bin string, opts Options) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	args := []string{"--listen-address", "127.0.0.1", "--listen-port", strconv.Itoa(port), "--data-dir", s.DataDir}
	if opts.Pprof {
		pp, err := freePort()
		if err != nil {
			return err
		}
		s.PprofAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(pp))
		args = append(args, "--pprof-address", s.PprofAddr)
	}
	logf, err := os.Create(s.log)
	if err != nil {
		return err
	}
	s.cmd = exec.Command(bin, args...)
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start %s: %w", bin, err)
	}
	go func() {
		s.err = s.cmd.Wait()
		logf.Close()
		close(s.exited)
	}()
	return nil
}

// waitReady waits for the CA certificate and the admin token the server
// writes at its first start, then for GET /healthz.
func (s *Server) waitReady(ctx context.Context, conns int) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		if s.Client == nil {
			s.Client, _ = NewClient(s.Addr, filepath.Join(s.DataDir, "pki", "ca.crt"), filepath.Join(s.DataDir, "admin.token"), conns)
		}
		if s.Client != nil && s.Client.Healthy(ctx) == nil {
			return nil
		}
		select {
		case <-s.exited:
			return fmt.Errorf("apiserver exited during start-up (%v): %s", s.err, s.LogTail())
		case <-ctx.Done():
			return fmt.Errorf("apiserver not ready: %w: %s", ctx.Err(), s.LogTail())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// PID is the child's process id.
func (s *Server) PID() int { return s.cmd.Process.Pid }

// Stop ends the child by its PID: SIGTERM, and SIGKILL if it has not exited
// 10 s later; then removes its temp dir.
func (s *Server) Stop() error {
	var err error
	if s.Client != nil {
		s.Client.Close()
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
		if s.err != nil {
			err = fmt.Errorf("apiserver exit after SIGTERM: %w: %s", s.err, s.LogTail())
		}
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Signal(syscall.SIGKILL)
		<-s.exited
		err = fmt.Errorf("apiserver did not stop within 10 s of SIGTERM: %s", s.LogTail())
	}
	return errors.Join(err, os.RemoveAll(s.dir))
}

// LogTail returns the end of the server's log, for error messages.
func (s *Server) LogTail() string {
	b, err := os.ReadFile(s.log)
	if err != nil {
		return err.Error()
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// freePort asks the kernel for an unused loopback port.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
