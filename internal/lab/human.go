package lab

import (
	"fmt"
	"log/slog"
	"strings"
)

// Attach returns the running lab with this ID under base, from its state
// file: for `humlab status`, or to use a lab another process started.
func Attach(base, id string, log *slog.Logger) (*Lab, error) {
	st, err := loadState(WorkDir(base, id))
	if err != nil {
		return nil, fmt.Errorf("lab %s: %w", id, err)
	}
	return attach(Config{ID: id, BaseDir: base, Binaries: st.Binaries, Detach: st.Detached, Insecure: !st.Secure, Log: log}, *st)
}

// Usage tells a human what the lab is and how to use it.
func (l *Lab) Usage() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	p("humstack lab %q is up (work dir %s).", l.st.ID, l.st.Dir)
	p("")
	p("Nodes (network namespaces, underlay %s on %s via bridge %s in %s):", UnderlayCIDR, UnderlayDev, hubBridge, l.NS(Hub))
	for i, n := range l.st.Nodes {
		extra := ""
		if i == 0 {
			extra = ", API server " + l.st.APIAddress
		}
		p("  %-8s %-7s %-12s ns %s%s; log %s", n.Name, n.Mode, n.Address, n.NS, extra, l.LogPath(n.Name))
	}
	p("Outside: ns %s, bridge %s %s/24 (gateway), internet host %s;", l.NS(Outside), ExternalBridge, OutsideAddress, InternetHost)
	p("  every node has a bridge %s joined to it (the external IP pool's bridgeName).", ExternalBridge)
	p("API server log: %s", l.LogPath(apiserverName))
	p("")
	p("Use humcli against it:")
	p("  %s get node", l.HumcliCommand())
	p("Run anything in a node:")
	p("  sudo ip netns exec %s ip -br addr", l.st.Nodes[0].NS)
	p("Tear it down: make lab-down")
	return b.String()
}

// Status describes each process of the lab and whether it still runs.
func (l *Lab) Status() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for _, p := range l.st.Procs {
		state := "running"
		if p.exited() {
			state = "gone"
		}
		fmt.Fprintf(&b, "%-10s pid %-8d %-8s in %s\n", p.Name, p.PID, state, p.NS)
	}
	return b.String()
}
