package lab

import (
	"context"
	"fmt"
)

// RestartAPIServer kills the API server with SIGKILL, by PID, and starts
// it again on its data, as a crash and a supervisor's restart would; it
// returns once /healthz answers.
func (l *Lab) RestartAPIServer(ctx context.Context) error {
	l.mu.Lock()
	p := l.st.proc(apiserverName)
	l.mu.Unlock()
	if p == nil {
		return fmt.Errorf("lab %s: no apiserver", l.st.ID)
	}
	if err := p.kill(); err != nil {
		return fmt.Errorf("stop apiserver: %w", err)
	}
	l.log.Info("killed", "proc", apiserverName, "pid", p.PID)
	return l.startAPIServer(ctx)
}
