package vm

import (
	"time"

	"github.com/humstack/humstack/api"
)

// restartDelay is 1 s, 2 s, 4 s ... up to maxRestartDelay.
func restartDelay(restarts int) time.Duration {
	if restarts < 1 {
		return 0
	}
	d := time.Second << min(restarts-1, 6)
	return min(d, maxRestartDelay)
}

func (d *Driver) markDied(k string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.diedAt[k] = time.Now()
}

// forgetDied reports whether the VM k was known to have died.
func (d *Driver) forgetDied(k string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, died := d.diedAt[k]
	delete(d.diedAt, k)
	return died
}

// stopEvent is the reason of a stop: Stopped, or ACPITimeout when the
// guest ignored the ACPI power button and QEMU was stopped hard.
func stopEvent(clean bool) string {
	if clean {
		return "Stopped"
	}
	return "ACPITimeout"
}

func stopType(clean bool) string {
	if clean {
		return api.EventNormal
	}
	return api.EventWarning
}

// restartWait is how long a VM that died must still wait before it is
// started again.
func (d *Driver) restartWait(k string, restarts int) time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	at, ok := d.diedAt[k]
	if !ok {
		return 0
	}
	return time.Until(at.Add(restartDelay(restarts)))
}
