// Package qemu starts, finds, and controls QEMU processes of humstack VMs
// through QMP.
//
// A VM is a directory (Machine.Dir) and the QEMU process whose command line
// names that directory's pidfile. Nothing about a running VM lives in the
// agent's memory: Find reads the pidfile and checks /proc, so an agent that
// restarts finds its VMs again, and QEMU, started with -daemonize in its own
// session, outlives the agent. (Under systemd the agent's unit needs
// KillMode=process, or QEMU dies with the agent's control group.)
//
// Directory layout, all made by QEMU except the directory and the log:
//
//	<dir>/qemu.pid     pidfile; QEMU holds a lock on it while it runs, so two
//	                   QEMUs can never share a directory
//	<dir>/qemu.log     QEMU's stdout and stderr until it daemonizes (appended)
//	<dir>/qmp.sock     QMP, one client at a time: keep connections short
//	<dir>/serial.sock  the guest's serial console (ttyS0), one client at a
//	                   time; output is dropped while none is connected, but
//	                   a connected client must keep reading, or the guest's
//	                   console writes stall
//	<dir>/vnc.sock     VNC of the guest's VGA display; never TCP
//	<dir>/start.lock   flock held by Start, so concurrent Starts of one
//	                   directory cannot both decide that none runs
//
// Args is pure and checks every value again, although the caller validated
// the VM: QEMU options are comma-separated key=value lists, so a comma or an
// equals sign in a path or name would add options of the user's choosing.
// Such values are refused rather than escaped; no valid humstack VM needs
// them.
//
// Stop presses the ACPI power button (system_powerdown), waits, then asks
// QEMU to quit and finally sends SIGKILL, through a pidfd so that a reused
// PID is never signalled.
//
// DetectAccel decides between KVM and TCG once per agent start, with a
// canary guest (canary.go) where the host's signs say KVM should work.
package qemu

// Binary is the QEMU system emulator that Start and DetectAccel run; tests
// may override it.
var Binary = "qemu-system-x86_64"
