package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
)

// agentProc is one running bin/agent process.
type agentProc struct {
	t    *testing.T
	name string
	cfg  string // config file
	log  string
	cmd  *exec.Cmd
	done chan struct{}
}

// agentSpec is what a test agent's config.yaml says beyond the common part.
type agentSpec struct {
	name, mode, memory, vcpus string
	// heartbeat and grace in seconds; 0 leaves the key out (the default).
	heartbeat, grace int
}

// writeAgentConfig writes the config of one agent under dir and returns
// its path. Every path and port is its own, so agents on one machine do
// not collide.
func writeAgentConfig(t *testing.T, dir string, apiPort int, s agentSpec) string {
	t.Helper()
	home := filepath.Join(dir, s.name)
	if err := os.MkdirAll(home, 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`apiServerAddress: 127.0.0.1
apiServerPort: %d
agentMode: %s
nodeName: %s
nodeAddress: 127.0.0.1
limitMemory: %s
limitVcpus: %s
blockStorageAgentConfig:
  blockStorageDirPath: %s
  imageDirPath: %s
  downloadAPI:
    advertiseAddress: 127.0.0.1
    listenAddress: 127.0.0.1
    listenPort: %d
networkAgentConfig:
  vxlan: {devName: lo}
  vlan: {devName: lo}
`, apiPort, s.mode, s.name, s.memory, s.vcpus,
		filepath.Join(home, "blockstorages"), filepath.Join(home, "images"), freePort(t))
	if s.heartbeat > 0 {
		cfg += fmt.Sprintf("heartbeatSeconds: %d\n", s.heartbeat)
	}
	if s.grace > 0 {
		cfg += fmt.Sprintf("nodeGraceSeconds: %d\n", s.grace)
	}
	p := filepath.Join(home, "config.yaml")
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// startAgent runs bin/agent --config cfg; its output is appended to
// agent.log next to the config. It is killed at test end if still running.
func startAgent(t *testing.T, name, cfg string) *agentProc {
	t.Helper()
	a := &agentProc{t: t, name: name, cfg: cfg, log: filepath.Join(filepath.Dir(cfg), "agent.log")}
	logf, err := os.OpenFile(a.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	a.cmd = exec.Command(filepath.Join(binDir, "agent"), "--config", cfg)
	a.cmd.Stdout, a.cmd.Stderr = logf, logf
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	a.done = make(chan struct{})
	go func() { _ = a.cmd.Wait(); logf.Close(); close(a.done) }()
	t.Cleanup(a.kill)
	return a
}

// kill sends SIGKILL to this agent (by its PID) and waits for it.
func (a *agentProc) kill() {
	select {
	case <-a.done:
		return
	default:
	}
	_ = a.cmd.Process.Signal(syscall.SIGKILL)
	<-a.done
}

// stop sends SIGTERM and waits for a graceful exit.
func (a *agentProc) stop() {
	_ = a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.done:
	case <-time.After(15 * time.Second):
		a.t.Errorf("agent %s did not exit within 15 s of SIGTERM", a.name)
		a.kill()
	}
}

// nodeRow is one row of `humcli get node`.
type nodeRow map[string]string

// getNodes runs the real `humcli get node` and parses its table by the
// header's column positions (an empty cell leaves a gap, not a shift).
func getNodes(t *testing.T, apiPort int) map[string]nodeRow {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "humcli"), "--api-server-address", "127.0.0.1",
		"--api-server-port", strconv.Itoa(apiPort), "get", "node")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("humcli get node: %v: %s", err, errb.String())
	}
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	rows := map[string]nodeRow{}
	if len(lines) < 2 {
		return rows
	}
	head := lines[0]
	cols := strings.Fields(head)
	for _, l := range lines[1:] {
		row := nodeRow{}
		for i, c := range cols {
			from := strings.Index(head, c)
			to := len(l)
			if i+1 < len(cols) {
				to = min(strings.Index(head, cols[i+1]), len(l))
			}
			if from < len(l) {
				row[c] = strings.TrimSpace(l[from:to])
			}
		}
		rows[row["ID"]] = row
	}
	return rows
}

// waitNodes polls humcli until cond holds for the rows or d passes, and
// returns how long it took.
func waitNodes(t *testing.T, apiPort int, d time.Duration, what string, cond func(map[string]nodeRow) bool) time.Duration {
	t.Helper()
	start := time.Now()
	var rows map[string]nodeRow
	for {
		rows = getNodes(t, apiPort)
		if cond(rows) {
			return time.Since(start)
		}
		if time.Since(start) > d {
			t.Fatalf("not within %v: %s; humcli get node shows %v", d, what, rows)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ready reports whether the row shows a Ready node with the given
// capacities and an allocation written by its heartbeat.
// ready says whether r shows a Ready node of mode with nothing placed on it
// yet, out of its allocatable: the memory limit (ratio 1) and four times
// the vCPU limit (the default --cpu-overcommit-ratio).
func ready(r nodeRow, mode, memory, vcpus string) bool {
	milli, err := api.ParseCPU(vcpus)
	return err == nil && r != nil && r["STATE"] == "Ready" && r["MODE"] == mode &&
		r["MEMORY"] == "0/"+memory && r["VCPUS"] == fmt.Sprintf("0m/%dm", 4*milli)
}

func state(rows map[string]nodeRow, id string) string {
	if r := rows[id]; r != nil {
		return r["STATE"]
	}
	return ""
}

// TestAgentsJoinAndLiveness: apiserver + 3 agents (node-a Core, node-b and
// node-c System; heartbeat 1 s, grace 5 s). `humcli get node` shows three
// Ready nodes with their capacities within 5 s; kill -9 of node-b's agent
// makes node-b NotReady within grace + 3 s while the others stay Ready;
// restarting it makes it Ready again.
func TestAgentsJoinAndLiveness(t *testing.T) {
	t.Parallel()
	const heartbeat, grace = 1, 5
	dir := t.TempDir()
	port := freePort(t)
	startAPIServer(t, filepath.Join(dir, "database"), port)
	specs := []agentSpec{
		{name: "node-a", mode: "Core", memory: "4G", vcpus: "2000m", heartbeat: heartbeat, grace: grace},
		{name: "node-b", mode: "System", memory: "8G", vcpus: "4000m", heartbeat: heartbeat, grace: grace},
		{name: "node-c", mode: "System", memory: "16G", vcpus: "8000m", heartbeat: heartbeat, grace: grace},
	}
	cfgs := map[string]string{}
	for _, s := range specs {
		cfgs[s.name] = writeAgentConfig(t, dir, port, s)
	}
	allReady := func(rows map[string]nodeRow) bool {
		for _, s := range specs {
			if !ready(rows[s.name], s.mode, s.memory, s.vcpus) {
				return false
			}
		}
		return len(rows) == len(specs)
	}

	start := time.Now()
	agents := map[string]*agentProc{}
	for _, s := range specs {
		agents[s.name] = startAgent(t, s.name, cfgs[s.name])
	}
	waitNodes(t, port, 5*time.Second, "3 Ready nodes with their capacities", allReady)
	t.Logf("start of 3 agents -> humcli shows 3 Ready nodes with capacities: %v", time.Since(start).Round(time.Millisecond))

	agents["node-b"].kill()
	killed := time.Now()
	bound := time.Duration(grace+3) * time.Second
	waitNodes(t, port, bound, "node-b NotReady", func(rows map[string]nodeRow) bool {
		return state(rows, "node-b") == "NotReady"
	})
	took := time.Since(killed)
	t.Logf("kill -9 node-b -> NotReady: %v (heartbeat %ds, grace %ds)", took.Round(time.Millisecond), heartbeat, grace)
	if earliest := time.Duration(grace-heartbeat-1) * time.Second; took < earliest {
		t.Errorf("node-b NotReady %v after the kill: before its grace could have run out (%v)", took, earliest)
	}
	rows := getNodes(t, port)
	if state(rows, "node-a") != "Ready" || state(rows, "node-c") != "Ready" {
		t.Fatalf("live nodes flipped: %v", rows)
	}

	restarted := time.Now()
	agents["node-b"] = startAgent(t, "node-b", cfgs["node-b"])
	waitNodes(t, port, 5*time.Second, "node-b Ready again", allReady)
	t.Logf("restart node-b -> Ready: %v", time.Since(restarted).Round(time.Millisecond))

	// A graceful stop is quick.
	stopStart := time.Now()
	agents["node-c"].stop()
	if d := time.Since(stopStart); d > 5*time.Second {
		t.Errorf("SIGTERM took %v", d)
	}
}

// TestNodeNotReadyWithin40s: with the default heartbeat (5 s) and grace
// (30 s), a killed agent's node is NotReady within the 40 s bound.
func TestNodeNotReadyWithin40s(t *testing.T) {
	if testing.Short() {
		t.Skip("takes about 30 s")
	}
	t.Parallel()
	const heartbeat, grace = 5 * time.Second, 30 * time.Second // the defaults
	dir := t.TempDir()
	port := freePort(t)
	startAPIServer(t, filepath.Join(dir, "database"), port)
	core := agentSpec{name: "node-a", mode: "Core", memory: "4G", vcpus: "2000m"}
	sys := agentSpec{name: "node-b", mode: "System", memory: "8G", vcpus: "4000m"}
	startAgent(t, core.name, writeAgentConfig(t, dir, port, core))
	b := startAgent(t, sys.name, writeAgentConfig(t, dir, port, sys))
	waitNodes(t, port, 5*time.Second, "2 Ready nodes", func(rows map[string]nodeRow) bool {
		return ready(rows["node-a"], core.mode, core.memory, core.vcpus) && ready(rows["node-b"], sys.mode, sys.memory, sys.vcpus)
	})

	b.kill()
	killed := time.Now()
	waitNodes(t, port, 40*time.Second, "node-b NotReady within 40 s", func(rows map[string]nodeRow) bool {
		return state(rows, "node-b") == "NotReady"
	})
	took := time.Since(killed)
	t.Logf("kill -9 node-b -> NotReady: %v (heartbeat %v, grace %v, bound 40s)", took.Round(time.Millisecond), heartbeat, grace)
	if took < grace-heartbeat-time.Second {
		t.Errorf("NotReady %v after the kill: before its grace could have run out", took)
	}
	if s := state(getNodes(t, port), "node-a"); s != "Ready" {
		t.Errorf("node-a is %s", s)
	}
}
