package agent

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
)

// fakeHost is a machine with fixed answers.
type fakeHost struct {
	hostname string
	memory   int64
	fs       int64
	cpus     int
	source   string
	iface    string
}

func (h fakeHost) Hostname() (string, error) {
	if h.hostname == "" {
		return "", errors.New("no hostname")
	}
	return h.hostname, nil
}
func (h fakeHost) MemoryBytes() (int64, error)           { return h.memory, nil }
func (h fakeHost) FilesystemBytes(string) (int64, error) { return h.fs, nil }
func (h fakeHost) CPUs() int                             { return h.cpus }
func (h fakeHost) SourceAddr(string) (string, error)     { return h.source, nil }
func (h fakeHost) InterfaceOf(ip string) (string, error) { return h.iface, nil }

var testHost = fakeHost{hostname: "worker1", memory: 16 << 30, fs: 500 << 30, cpus: 4, source: "10.0.0.5", iface: "ens3"}

func abs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestSeedConfig loads the seed README's sample verbatim: every key lands.
func TestSeedConfig(t *testing.T) {
	data, err := os.ReadFile("testdata/seed-config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := parseConfig(data, testHost)
	if err != nil {
		t.Fatal(err)
	}
	bs, ia := cfg.BlockStorageAgentConfig, cfg.ImageAgentConfig
	for _, c := range []struct{ key, got, want string }{
		{"apiServerAddress", cfg.APIServerAddress, "localhost"},
		{"apiServer", cfg.APIServer(), "localhost:8080"},
		{"agentMode", string(cfg.AgentMode), "All"},
		{"limitMemory", cfg.LimitMemory, "8G"},
		{"limitVcpus", cfg.LimitVcpus, "8000m"},
		{"nodeAddress", cfg.NodeAddress, "192.168.10.1"},
		{"blockStorageAgentConfig.blockStorageDirPath", bs.BlockStorageDirPath, abs(t, "blockstorages")},
		{"blockStorageAgentConfig.imageDirPath", bs.ImageDirPath, abs(t, "images")},
		{"downloadAPI.advertiseAddress", bs.DownloadAPI.AdvertiseAddress, "192.168.10.1"},
		{"downloadAPI.listenAddress", bs.DownloadAPI.ListenAddress, "0.0.0.0"},
		{"vxlan.devName", cfg.NetworkAgentConfig.VXLAN.DevName, "eth0"},
		{"vxlan.group", cfg.NetworkAgentConfig.VXLAN.Group, "239.0.0.1"},
		{"vlan.devName", cfg.NetworkAgentConfig.VLAN.DevName, "eth0"},
		{"imageAgentConfig.blockStorageDirPath", ia.BlockStorageDirPath, abs(t, "blockstorages")},
		{"imageAgentConfig.imageDirPath", ia.ImageDirPath, abs(t, "images")},
		{"accel (default)", cfg.Accel, "auto"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.key, c.got, c.want)
		}
	}
	if cfg.APIServerPort != 8080 || bs.DownloadAPI.ListenPort != 8082 || bs.ParallelLimit != 1 {
		t.Errorf("ports/parallelLimit = %d, %d, %d", cfg.APIServerPort, bs.DownloadAPI.ListenPort, bs.ParallelLimit)
	}
	if cfg.MemoryBytes != 8<<30 || cfg.VcpusMilli != 8000 {
		t.Errorf("capacity = %d bytes, %dm", cfg.MemoryBytes, cfg.VcpusMilli)
	}
	if cfg.Heartbeat() != 5*time.Second || cfg.NodeGrace() != 30*time.Second || cfg.Resync() != 300*time.Second {
		t.Errorf("intervals = %v, %v, %v", cfg.Heartbeat(), cfg.NodeGrace(), cfg.Resync())
	}
	if cfg.NodeName != "worker1" || len(cfg.Notices) != 0 {
		t.Errorf("nodeName %q (want the hostname), notices %q", cfg.NodeName, cfg.Notices)
	}
}

// TestDefaults: an empty file gets every default, derived ones from the host.
func TestDefaults(t *testing.T) {
	cfg, err := parseConfig(nil, testHost)
	if err != nil {
		t.Fatal(err)
	}
	want := defaults()
	want.LimitMemory, want.LimitVcpus, want.MemoryBytes, want.VcpusMilli = "16G", "4000m", 16<<30, 4000
	want.LimitStorage, want.StorageBytes = "500G", 500<<30
	want.NodeName, want.NodeAddress = "worker1", "10.0.0.5"
	want.BlockStorageAgentConfig.DownloadAPI.AdvertiseAddress = "10.0.0.5"
	want.BlockStorageAgentConfig.BlockStorageDirPath = abs(t, DefaultBlockStorageDir)
	want.BlockStorageAgentConfig.ImageDirPath = abs(t, DefaultImageDir)
	want.ImageAgentConfig = ImageAgentConfig{BlockStorageDirPath: abs(t, DefaultBlockStorageDir), ImageDirPath: abs(t, DefaultImageDir)}
	want.VirtualMachineAgentConfig.VirtualMachineDirPath = abs(t, DefaultVMDir)
	want.PKIDirPath = abs(t, DefaultPKIDir)
	want.NetworkAgentConfig = NetworkAgentConfig{VXLAN: VXLANConfig{DevName: "ens3"}, VLAN: VLANConfig{DevName: "ens3"}}
	if got, w := dump(cfg), dump(want); got != w {
		t.Errorf("defaults:\n got %s\nwant %s", got, w)
	}
	if len(cfg.Notices) != 0 {
		t.Errorf("notices %q", cfg.Notices)
	}
}

func dump(c Config) string {
	b, _ := api.Encode(&api.Resource[Config, api.Empty]{Spec: c})
	return string(b)
}

// TestZeroMeansDefault: parallelLimit 0 is the default 1 (no hang).
func TestZeroMeansDefault(t *testing.T) {
	cfg, err := parseConfig([]byte("blockStorageAgentConfig: {parallelLimit: 0}\n"), testHost)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.BlockStorageAgentConfig.ParallelLimit != 1 {
		t.Errorf("parallelLimit = %d, want 1", cfg.BlockStorageAgentConfig.ParallelLimit)
	}
}

func TestNodeNameFromHostname(t *testing.T) {
	h := testHost
	h.hostname = "Worker-1"
	cfg, err := parseConfig(nil, h)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.NodeName != "worker-1" || len(cfg.Notices) != 1 || !strings.Contains(cfg.Notices[0], `"Worker-1"`) {
		t.Errorf("nodeName %q, notices %q", cfg.NodeName, cfg.Notices)
	}
	cfg, err = parseConfig([]byte("nodeName: node-a\n"), h)
	if err != nil || cfg.NodeName != "node-a" || len(cfg.Notices) != 0 {
		t.Errorf("explicit nodeName: %q, %q, %v", cfg.NodeName, cfg.Notices, err)
	}
	for _, hn := range []string{"host.example.com", "under_score", ""} {
		h.hostname = hn
		if _, err := parseConfig(nil, h); !errors.Is(err, api.ErrInvalid) || !strings.Contains(err.Error(), "nodeName") {
			t.Errorf("hostname %q: %v, want an error naming nodeName", hn, err)
		}
	}
}

func TestNoInterfaceForDevices(t *testing.T) {
	h := testHost
	h.iface = ""
	cfg, err := parseConfig(nil, h)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.NetworkAgentConfig.VXLAN.DevName != "" || len(cfg.Notices) != 1 {
		t.Errorf("devName %q, notices %q", cfg.NetworkAgentConfig.VXLAN.DevName, cfg.Notices)
	}
}

// TestAPIServers: the list form replaces apiServerAddress/apiServerPort.
func TestAPIServers(t *testing.T) {
	cfg, err := parseConfig([]byte("apiServers: [10.0.0.1:8080, 'api-2:8080', '[fd00::1]:8080']\n"), testHost)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.APIServer(); got != "10.0.0.1:8080,api-2:8080,[fd00::1]:8080" {
		t.Errorf("APIServer() = %q", got)
	}
}

// TestBadConfigs: each bad file is one error naming the key at fault.
func TestBadConfigs(t *testing.T) {
	for _, c := range []struct{ name, yaml, key string }{
		{"unknown key", "apiServerAdress: localhost\n", "apiServerAdress"},
		{"unknown nested key", "blockStorageAgentConfig:\n  downloadAPI:\n    port: 1\n", "blockStorageAgentConfig.downloadAPI.port"},
		{"wrong case key", "agentmode: All\n", `agentmode: unknown field (did you mean "agentMode"?)`},
		{"not yaml", "agentMode: [\n", "(document)"},
		{"mode", "agentMode: Compute\n", "agentMode"},
		{"mode case", "agentMode: all\n", `did you mean "All"`},
		{"memory", "limitMemory: 8GB\n", "limitMemory"},
		{"memory zero", "limitMemory: 0\n", "limitMemory"},
		{"vcpus", "limitVcpus: lots\n", "limitVcpus"},
		{"storage", "limitStorage: lots\n", "limitStorage"},
		{"storage zero", "limitStorage: 0\n", "limitStorage"},
		{"node label key", "nodeLabels: {\"a=b\": x}\n", "nodeLabels[a=b]"},
		{"node label value", "nodeLabels: {rack: \"a,b\"}\n", "nodeLabels[rack]"},
		{"vcpus zero", "limitVcpus: 0m\n", "limitVcpus"},
		{"port zero", "apiServerPort: 0\n", "apiServerPort"},
		{"port big", "apiServerPort: 70000\n", "apiServerPort"},
		{"port string", "apiServerPort: http\n", "apiServerPort"},
		{"listen port", "blockStorageAgentConfig: {downloadAPI: {listenPort: -1}}\n", "blockStorageAgentConfig.downloadAPI.listenPort"},
		{"api address", "apiServerAddress: http://x:8080\n", "apiServerAddress"},
		{"api servers no port", "apiServers: [a:8080, b]\n", "apiServers[1]"},
		{"api servers bad port", "apiServers: ['a:99999']\n", "apiServers[0]"},
		{"api servers url", "apiServers: ['http://a:8080']\n", "apiServers[0]"},
		{"node address", "nodeAddress: 192.168.10\n", "nodeAddress"},
		{"advertise address", "blockStorageAgentConfig: {downloadAPI: {advertiseAddress: me}}\n", "blockStorageAgentConfig.downloadAPI.advertiseAddress"},
		{"listen address", "blockStorageAgentConfig: {downloadAPI: {listenAddress: ''}}\n", "blockStorageAgentConfig.downloadAPI.listenAddress"},
		{"parallel negative", "blockStorageAgentConfig: {parallelLimit: -1}\n", "blockStorageAgentConfig.parallelLimit"},
		{"empty dir", "blockStorageAgentConfig: {blockStorageDirPath: ''}\n", "blockStorageAgentConfig.blockStorageDirPath"},
		{"vxlan group", "networkAgentConfig: {vxlan: {group: 10.0.0.1}}\n", "networkAgentConfig.vxlan.group"},
		{"vxlan dev", "networkAgentConfig: {vxlan: {devName: a-very-long-interface-name}}\n", "networkAgentConfig.vxlan.devName"},
		{"vlan dev", "networkAgentConfig: {vlan: {devName: 'eth 0'}}\n", "networkAgentConfig.vlan.devName"},
		{"node name", "nodeName: Node_A\n", "nodeName"},
		{"heartbeat zero", "heartbeatSeconds: 0\n", "heartbeatSeconds"},
		{"polling negative", "pollingSeconds: -10\n", "pollingSeconds"},
		{"grace not above heartbeat", "heartbeatSeconds: 10\nnodeGraceSeconds: 10\n", "nodeGraceSeconds"},
		{"grace huge", "nodeGraceSeconds: 100000000000\n", "nodeGraceSeconds"},
		{"accel", "accel: hvf\n", "accel"},
		{"accel case", "accel: KVM\n", `did you mean "kvm"`},
		{"wrong type", "limitMemory: {a: 1}\n", "limitMemory"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := parseConfig([]byte(c.yaml), testHost)
			if err == nil {
				t.Fatalf("%q accepted", c.yaml)
			}
			if !errors.Is(err, api.ErrInvalid) || !strings.Contains(err.Error(), c.key) {
				t.Fatalf("error %q does not name %q", err, c.key)
			}
			t.Log(err)
		})
	}
}

// TestLoadConfig reads the sample through the real host (the node name
// comes from this machine's hostname, so only its form is checked).
func TestLoadConfig(t *testing.T) {
	cfg, err := LoadConfig("testdata/seed-config.yaml")
	if hn, _ := os.Hostname(); !api.IsID(strings.ToLower(hn)) {
		t.Skipf("hostname %q cannot be a node name; covered by TestNodeNameFromHostname", hn)
	}
	if err != nil {
		t.Fatal(err)
	}
	if !api.IsID(cfg.NodeName) || cfg.MemoryBytes != 8<<30 {
		t.Errorf("nodeName %q, memory %d", cfg.NodeName, cfg.MemoryBytes)
	}
}

func TestLoadConfigErrors(t *testing.T) {
	if _, err := LoadConfig(filepath.Join(t.TempDir(), "missing.yaml")); err == nil || !strings.Contains(err.Error(), "read config") {
		t.Errorf("missing file: %v", err)
	}
	p := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(p, []byte("agentMode: Nope\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadConfig(p); err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "agentMode") {
		t.Errorf("bad file: %v", err)
	}
}

func TestDownloadAPISecret(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	short := filepath.Join(dir, "short")
	os.WriteFile(good, []byte("0123456789abcdef0123\n"), 0o600)
	os.WriteFile(short, []byte("abc\n"), 0o600)
	base := "nodeName: n1\nnodeAddress: 10.0.0.5\nblockStorageAgentConfig:\n  downloadAPI:\n"
	for _, tc := range []struct{ yaml, wantErr, wantSecret string }{
		{"    secret: 0123456789abcdef\n", "", "0123456789abcdef"},
		{"    secret: short\n", "blockStorageAgentConfig.downloadAPI.secret", ""},
		{"    secretFile: " + good + "\n", "", "0123456789abcdef0123"},
		{"    secretFile: " + short + "\n", "blockStorageAgentConfig.downloadAPI.secretFile", ""},
		{"    secretFile: " + filepath.Join(dir, "missing") + "\n", "blockStorageAgentConfig.downloadAPI.secretFile", ""},
		{"    secret: 0123456789abcdef\n    secretFile: " + good + "\n", "blockStorageAgentConfig.downloadAPI.secret", ""},
	} {
		cfg, err := parseConfig([]byte(base+tc.yaml), testHost)
		switch {
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%q: err %v, want one naming %s", tc.yaml, err, tc.wantErr)
		case tc.wantErr == "" && err != nil:
			t.Errorf("%q: %v", tc.yaml, err)
		case tc.wantErr == "" && cfg.BlockStorageAgentConfig.DownloadAPI.Secret != tc.wantSecret:
			t.Errorf("%q: secret %q, want %q", tc.yaml, cfg.BlockStorageAgentConfig.DownloadAPI.Secret, tc.wantSecret)
		}
	}
}

func TestImageAgentPathsMustAgree(t *testing.T) {
	_, err := parseConfig([]byte("nodeName: n1\nnodeAddress: 10.0.0.5\nimageAgentConfig:\n  imageDirPath: /elsewhere\n"), testHost)
	if err == nil || !strings.Contains(err.Error(), "imageAgentConfig.imageDirPath") {
		t.Fatalf("err %v, want one naming imageAgentConfig.imageDirPath", err)
	}
}

// TestLimitStorage: limitStorage as given, else the size of the file
// system of blockStorageDirPath, which need not exist yet.
func TestLimitStorage(t *testing.T) {
	cfg, err := parseConfig([]byte("limitStorage: 100G\n"), testHost)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.LimitStorage != "100G" || cfg.StorageBytes != 100<<30 {
		t.Errorf("limitStorage %q (%d bytes), want 100G", cfg.LimitStorage, cfg.StorageBytes)
	}
	dir := t.TempDir()
	whole, err := realHost{}.FilesystemBytes(dir)
	if err != nil || whole <= 0 {
		t.Fatalf("FilesystemBytes(%s) = %d, %v", dir, whole, err)
	}
	if got, err := (realHost{}).FilesystemBytes(filepath.Join(dir, "not", "yet")); err != nil || got != whole {
		t.Errorf("FilesystemBytes of a directory still to be made = %d, %v; want its parent's %d", got, err, whole)
	}
}
