package lab

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/humstack/humstack/internal/agent"
)

// TestAgentConfigLoads renders each node's config and loads it with the
// agent's own loader: every key is known and valid, nothing is derived
// from the machine the lab runs on.
func TestAgentConfigLoads(t *testing.T) {
	cfg, err := Config{BinDir: "/bin", Insecure: true, HeartbeatSeconds: 1, NodeGraceSeconds: 3, Accel: "tcg",
		LimitMemory: "4G", LimitVcpus: "4000m"}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	l, err := newLab(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range l.Nodes() {
		home := filepath.Join(t.TempDir(), "my dir")
		path := filepath.Join(t.TempDir(), "agent.yaml")
		if err := os.WriteFile(path, []byte(agentConfig(&cfg, "172.31.0.1", 8080, n, home)), 0o600); err != nil {
			t.Fatal(err)
		}
		ac, err := agent.LoadConfig(path)
		if err != nil {
			t.Fatalf("%s: %v", n.Name, err)
		}
		if string(ac.AgentMode) != n.Mode || ac.NodeName != n.Name || ac.NodeAddress != n.Address ||
			ac.NetworkAgentConfig.VXLAN.DevName != "eth0" || ac.NetworkAgentConfig.VXLAN.Group != DefaultGroup ||
			ac.HeartbeatSeconds != 1 || ac.NodeGraceSeconds != 3 || ac.Accel != "tcg" ||
			ac.BlockStorageAgentConfig.BlockStorageDirPath != filepath.Join(home, "blockstorages") ||
			ac.ImageAgentConfig.ImageDirPath != filepath.Join(home, "images") || len(ac.Notices) != 0 {
			t.Errorf("%s: loaded %+v", n.Name, ac)
		}
	}
}

// TestConfigDefaults checks the default lab: three nodes, Core first.
func TestConfigDefaults(t *testing.T) {
	cfg, err := Config{BinDir: "bin", VXLANUnicast: true}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	l, err := newLab(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, n := range l.Nodes() {
		got = append(got, n.Name+" "+n.Mode+" "+n.Address+" "+n.NS)
	}
	p := Prefix(cfg.ID)
	want := []string{"node-a Core 172.31.0.1 " + p + "node-a", "node-b System 172.31.0.2 " + p + "node-b",
		"node-c System 172.31.0.3 " + p + "node-c"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("nodes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if cfg.VXLANGroup != "" || l.APIAddress() != "172.31.0.1:8080" || !filepath.IsAbs(cfg.Binaries.Agent) {
		t.Errorf("defaults: group %q api %s agent %s", cfg.VXLANGroup, l.APIAddress(), cfg.Binaries.Agent)
	}
	for _, bad := range []Config{{BinDir: "b", ID: "a-b"}, {BinDir: "b", Nodes: 27}, {BinDir: "b", Modes: []string{"Edge"}}, {}} {
		if _, err := bad.withDefaults(); err == nil {
			t.Errorf("%+v: want an error", bad)
		}
	}
}

// TestSecureAgentConfigLoads renders a secure lab's agent config (a join
// token, the CA pin, no secret) and loads it with the agent's loader.
func TestSecureAgentConfigLoads(t *testing.T) {
	cfg, err := Config{BinDir: "/bin"}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DownloadSecret != "" {
		t.Fatalf("a secure lab got a download secret %q", cfg.DownloadSecret)
	}
	if _, err := (Config{BinDir: "/bin", DownloadSecret: "s"}).withDefaults(); err == nil {
		t.Error("a secure lab with a DownloadSecret: want an error")
	}
	l, err := newLab(cfg)
	if err != nil {
		t.Fatal(err)
	}
	fp := "sha256:" + strings.Repeat("ab", 32)
	l.joinTokens, l.caFingerprint = map[string]string{"node-b": "0123456789ab." + strings.Repeat("cd", 16)}, fp
	n := l.Nodes()[1]
	home := t.TempDir()
	y := agentConfig(&cfg, "172.31.0.1", 8080, n, home) + l.joinKeys(n.Name, home)
	if strings.Contains(y, "secret") {
		t.Errorf("a secret in the config:\n%s", y)
	}
	path := filepath.Join(t.TempDir(), "agent.yaml")
	if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	ac, err := agent.LoadConfig(path)
	if err != nil {
		t.Fatalf("%v\n%s", err, y)
	}
	if ac.JoinToken != l.joinTokens["node-b"] || ac.APIServerCAFingerprint != fp || ac.PKIDirPath != filepath.Join(home, "pki") ||
		ac.BlockStorageAgentConfig.DownloadAPI.Secret != "" {
		t.Errorf("loaded %+v", ac)
	}
	// The last node has the token alone (no pin): the agent loads it.
	last := l.Nodes()[len(l.Nodes())-1]
	l.joinTokens[last.Name] = "0123456789ac." + strings.Repeat("ef", 16)
	y = agentConfig(&cfg, "172.31.0.1", 8080, last, home) + l.joinKeys(last.Name, home)
	if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	if ac, err := agent.LoadConfig(path); err != nil || ac.APIServerCAFingerprint != "" || ac.JoinToken != l.joinTokens[last.Name] {
		t.Errorf("%s (token alone): %+v, %v\n%s", last.Name, ac, err, y)
	}
}

// TestYAMLValue reads humcli node join-token's output.
func TestYAMLValue(t *testing.T) {
	out := "# join token 5f2c: valid until …\njoinToken: 5f2c.abc\napiServerCAFingerprint: sha256:00\n"
	if got := yamlValue(out, "joinToken"); got != "5f2c.abc" {
		t.Errorf("joinToken: %q", got)
	}
	if got := yamlValue(out, "apiServerCAFingerprint"); got != "sha256:00" {
		t.Errorf("fingerprint: %q", got)
	}
	if got := yamlValue(out, "secret"); got != "" {
		t.Errorf("absent key: %q", got)
	}
}

// TestAgentConfigNodeLimits: per-node capacity and the scheduler policy
// reach each agent's config.
func TestAgentConfigNodeLimits(t *testing.T) {
	cfg, err := Config{BinDir: "/bin", Insecure: true, LimitMemory: "4G", LimitVcpus: "4", SchedulerPolicy: "pack",
		NodeLimits: []NodeLimits{{Memory: "6G"}, {Memory: "10G", Vcpus: "8"}}}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	l, err := newLab(cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][2]string{"node-a": {"6G", "4"}, "node-b": {"10G", "8"}, "node-c": {"4G", "4"}}
	for _, n := range l.Nodes() {
		path := filepath.Join(t.TempDir(), "agent.yaml")
		if err := os.WriteFile(path, []byte(agentConfig(&cfg, "172.31.0.1", 8080, n, t.TempDir())), 0o600); err != nil {
			t.Fatal(err)
		}
		ac, err := agent.LoadConfig(path)
		if err != nil {
			t.Fatalf("%s: %v", n.Name, err)
		}
		if got := [2]string{ac.LimitMemory, ac.LimitVcpus}; got != want[n.Name] || ac.Scheduler.Policy != "pack" {
			t.Errorf("%s: limits %v policy %q, want %v pack", n.Name, got, ac.Scheduler.Policy, want[n.Name])
		}
	}
}
