package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"sync/atomic"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/controller"
	"github.com/humstack/humstack/internal/controller/record"
)

// Version is the agent's version, shown on its node. Set at build time:
// -ldflags "-X github.com/humstack/humstack/internal/agent/node.Version=v1.2.3".
var Version = "dev"

// DefaultHeartbeat is the heartbeat interval when Options leave it out.
const DefaultHeartbeat = 5 * time.Second

// Options describe this node as the agent's config gives it.
type Options struct {
	Name        string // node id: a DNS label
	Address     string
	LimitMemory string // capacity as written, e.g. "8G"
	LimitVcpus  string // e.g. "8000m"
	// LimitStorage is the disk space for block storages, e.g. "500G";
	// empty: unknown (not enforced).
	LimitStorage string
	AgentMode    string
	Accelerator  string
	// DownloadHost is host:port of this node's listener for other nodes
	// and the API server (download API, consoles); empty without a secret.
	DownloadHost string
	// ExternalBridges are the external bridges of this node, reported
	// for the scheduler's placement of routers.
	ExternalBridges []string
	// Labels are set on the node at registration (config nodeLabels).
	Labels    map[string]string
	Heartbeat time.Duration // default DefaultHeartbeat
	Log       *slog.Logger  // default the manager's
}

// Agent is this node's registration and heartbeat; it is a
// controller.Runnable (the heartbeat loop). The node's allocation is the
// API server's ledger (status.reservations); the agent only reads it.
type Agent struct {
	c    *client.Client
	opts Options
	spec api.NodeSpec
	log  *slog.Logger
	now  func() time.Time
	// events records NodeReady when a heartbeat ends a NotReady.
	events record.Recorder

	// Owned by Register, then by the heartbeat loop.
	node *api.Node
	// seen is the node as last written, for readers on other goroutines
	// (the metrics).
	seen atomic.Pointer[api.Node]
}

// New returns the agent of node opts.Name.
func New(m *controller.Manager, opts Options) *Agent {
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = DefaultHeartbeat
	}
	if opts.Log == nil {
		opts.Log = m.Log
	}
	a := &Agent{
		c:    m.Client,
		opts: opts,
		spec: api.NodeSpec{
			Address: opts.Address, LimitMemory: opts.LimitMemory, LimitVcpus: opts.LimitVcpus,
			AgentMode: opts.AgentMode, Accelerator: opts.Accelerator, AgentVersion: Version,
			DownloadHost: opts.DownloadHost, LimitStorage: opts.LimitStorage, ExternalBridges: opts.ExternalBridges,
		},
		log:    opts.Log.With("node", opts.Name),
		now:    time.Now,
		events: m.Recorder("node"),
	}
	return a
}

// Register creates this node or brings its spec up to date, and marks it
// Ready with a first heartbeat. While the API server cannot be reached it
// retries until ctx ends; an object the server rejects is an error.
func (a *Agent) Register(ctx context.Context) error {
	for attempt := 0; ; attempt++ {
		n, err := a.register(ctx)
		if err == nil {
			a.node = n
			a.log.Info("node registered", "address", n.Spec.Address, "limitMemory", n.Spec.LimitMemory,
				"limitVcpus", n.Spec.LimitVcpus, "mode", n.Spec.AgentMode, "version", n.Spec.AgentVersion)
			return nil
		}
		if errors.Is(err, api.ErrInvalid) || errors.Is(err, api.ErrForbidden) || errors.Is(err, api.ErrUnauthorized) {
			return fmt.Errorf("register node %s: %w", a.opts.Name, err)
		}
		d := retryDelay(attempt)
		a.log.Warn("node registration failed; retrying", "err", err, "attempt", attempt+1, "retry_in", d)
		select {
		case <-ctx.Done():
			return fmt.Errorf("register node %s: %w", a.opts.Name, ctx.Err())
		case <-time.After(d):
		}
	}
}

// register is one create-or-update of spec, then of status.
func (a *Agent) register(ctx context.Context) (*api.Node, error) {
	nodes := client.For[*api.Node](a.c)
	cur, err := nodes.Get(ctx, client.Scope{}, a.opts.Name)
	switch {
	case errors.Is(err, api.ErrNotFound):
		n := api.NodeKind.New().(*api.Node)
		n.Meta.ID, n.Spec = a.opts.Name, a.spec
		mergeLabels(&n.Meta, a.opts.Labels)
		if cur, err = nodes.Create(ctx, n); err != nil {
			return nil, fmt.Errorf("create node: %w", err)
		}
	case err != nil:
		return nil, fmt.Errorf("get node: %w", err)
	default:
		cur, err = controller.Update(ctx, a.c, cur, func(n *api.Node) bool {
			// Cordon is the administrator's (humcli cordon): a restarting
			// agent keeps it.
			want := a.spec
			want.Unschedulable = n.Spec.Unschedulable
			labeled := mergeLabels(&n.Meta, a.opts.Labels)
			if reflect.DeepEqual(n.Spec, want) {
				return labeled
			}
			n.Spec = want
			return true
		})
		if err != nil {
			return nil, fmt.Errorf("update node spec: %w", err)
		}
	}
	return a.writeStatus(ctx, cur)
}

// writeStatus records a heartbeat: Ready and now. The API server keeps the
// ledger and allocation as stored, whatever this write carries.
func (a *Agent) writeStatus(ctx context.Context, n *api.Node) (*api.Node, error) {
	recovered := false
	out, err := controller.UpdateStatus(ctx, a.c, n, func(n *api.Node) bool {
		s := &n.Status
		recovered = s.State == api.NodeNotReady
		s.State, s.Message = api.NodeReady, ""
		setNodeReady(n)
		s.LastHeartbeatTime = a.now().UTC().Format(time.RFC3339Nano)
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("update node status: %w", err)
	}
	a.seen.Store(out)
	if recovered {
		a.events.Event(out, api.EventNormal, "NodeReady", "heartbeating again")
	}
	return out, nil
}

// retryDelay doubles from 250 ms to 8 s.
func retryDelay(attempt int) time.Duration {
	return min(250*time.Millisecond<<min(attempt, 5), 8*time.Second)
}

// mergeLabels sets the labels of the agent's config (nodeLabels) on m and
// says whether that changed anything. Labels set otherwise (humcli label)
// stay: the config names only the labels it owns, and removing one from
// the config leaves it on the node for an operator to remove.
func mergeLabels(m *api.Meta, labels map[string]string) bool {
	changed := false
	for k, v := range labels {
		if cur, ok := m.Labels[k]; ok && cur == v {
			continue
		}
		if m.Labels == nil {
			m.Labels = map[string]string{}
		}
		m.Labels[k], changed = v, true
	}
	return changed
}
