package lab

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// stateFile is the name of the state file in the work directory.
const stateFile = "state.json"

// Node is one node of a lab.
type Node struct {
	Name    string `json:"name"`    // the agent's nodeName: node-a, node-b, ...
	Mode    string `json:"mode"`    // its agentMode
	NS      string `json:"ns"`      // its network namespace
	Address string `json:"address"` // its underlay address on eth0
}

// state is what a lab is: written to <dir>/state.json at every change, so
// `humlab status` and `humlab down` work from another process.
type state struct {
	ID         string   `json:"id"`
	Prefix     string   `json:"prefix"`
	Dir        string   `json:"dir"`
	APIAddress string   `json:"apiAddress"`
	Binaries   Binaries `json:"binaries"`
	Detached   bool     `json:"detached"`
	// Secure: HTTPS and RBAC (a Config without Insecure).
	Secure bool `json:"secure,omitempty"`
	// Owner is the process that ran Up, for labs that must not outlive it
	// (not Detached): CleanOrphans removes the lab once it is gone.
	Owner      *owner   `json:"owner,omitempty"`
	Namespaces []string `json:"namespaces"`
	Nodes      []Node   `json:"nodes"`
	Procs      []*proc  `json:"procs"`
}

// owner identifies a process by PID and start time.
type owner struct {
	PID   int    `json:"pid"`
	Start uint64 `json:"start"`
}

// self returns the identity of this process.
func self() *owner {
	st, _ := startTime(os.Getpid())
	return &owner{PID: os.Getpid(), Start: st}
}

// alive reports whether the process still runs.
func (o *owner) alive() bool {
	st, err := startTime(o.PID)
	return err == nil && st == o.Start
}

// save writes the state file atomically.
func (s *state) save() error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encode lab state: %w", err)
	}
	path := filepath.Join(s.Dir, stateFile)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write lab state: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write lab state: %w", err)
	}
	return nil
}

// loadState reads the state file of the lab in dir.
func loadState(dir string) (*state, error) {
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return nil, fmt.Errorf("read lab state: %w", err)
	}
	var s state
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("lab state %s: %w", filepath.Join(dir, stateFile), err)
	}
	return &s, nil
}

// proc returns the recorded process with this name, or nil.
func (s *state) proc(name string) *proc {
	for _, p := range s.Procs {
		if p.Name == name {
			return p
		}
	}
	return nil
}
