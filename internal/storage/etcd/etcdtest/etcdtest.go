// Package etcdtest starts real etcd servers inside a test process
// (go.etcd.io/etcd/server/v3/embed): one member or a cluster of several, on
// 127.0.0.1 ports chosen by the kernel, with data in the test's temporary
// directory. No etcd binary or package is needed.
package etcdtest

import (
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// Options tune a test cluster.
type Options struct {
	// Members is the cluster size; 0 means 1.
	Members int
	// NoFsync trades durability for speed (conformance tests); benchmarks
	// leave it off to compare like with like.
	NoFsync bool
	// ClientTLS, when its CertFile is set, serves clients over TLS only
	// (set ClientCertAuth to require client certificates).
	ClientTLS transport.TLSInfo
}

// Cluster is a running embedded etcd cluster.
type Cluster struct {
	members []*member
}

type member struct {
	name   string
	client string
	once   sync.Once
	etcd   *embed.Etcd
}

// Start starts a cluster and stops it when the test ends.
func Start(t testing.TB, opts Options) *Cluster {
	t.Helper()
	n := max(opts.Members, 1)
	dir := t.TempDir()
	c := &Cluster{}
	var initial []string
	cfgs := make([]*embed.Config, n)
	for i := range n {
		cfg := embed.NewConfig()
		cfg.Name = fmt.Sprintf("m%d", i)
		cfg.Dir = filepath.Join(dir, cfg.Name)
		cu, pu := freeURL(t), freeURL(t)
		if opts.ClientTLS.CertFile != "" {
			cu.Scheme = "https"
			cfg.ClientTLSInfo = opts.ClientTLS
		}
		cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{cu}, []url.URL{cu}
		cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{pu}, []url.URL{pu}
		cfg.UnsafeNoFsync = opts.NoFsync
		cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
		// Tight timings: a member that dies is noticed within a second.
		cfg.TickMs, cfg.ElectionMs = 50, 500
		cfgs[i] = cfg
		initial = append(initial, cfg.Name+"="+pu.String())
		c.members = append(c.members, &member{name: cfg.Name, client: cu.Host})
	}
	errs := make(chan error, n)
	for i, cfg := range cfgs {
		cfg.InitialCluster = strings.Join(initial, ",")
		cfg.InitialClusterToken = "humstack-test"
		go func() {
			e, err := embed.StartEtcd(cfg)
			if err == nil {
				c.members[i].etcd = e
			}
			errs <- err
		}()
	}
	var failed error
	for range n {
		if err := <-errs; err != nil {
			failed = err
		}
	}
	t.Cleanup(c.Stop)
	if failed != nil {
		t.Fatalf("start embedded etcd: %v", failed)
	}
	for _, m := range c.members {
		select {
		case <-m.etcd.Server.ReadyNotify():
		case <-time.After(30 * time.Second):
			t.Fatalf("embedded etcd member %s not ready within 30 s", m.name)
		}
	}
	return c
}

// Endpoints are the members' client addresses (host:port).
func (c *Cluster) Endpoints() []string {
	var out []string
	for _, m := range c.members {
		out = append(out, m.client)
	}
	return out
}

// StopMember stops member i (a dead node); the others keep quorum if the
// cluster has at least three members.
func (c *Cluster) StopMember(i int) {
	m := c.members[i]
	m.once.Do(func() {
		if m.etcd != nil {
			m.etcd.Close()
		}
	})
}

// Stop stops every member.
func (c *Cluster) Stop() {
	for i := range c.members {
		c.StopMember(i)
	}
}

// freeURL returns an http URL on a loopback port that was free a moment
// ago.
func freeURL(t testing.TB) url.URL {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return url.URL{Scheme: "http", Host: ln.Addr().String()}
}
