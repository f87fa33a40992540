// Package system holds the per-node controllers a System agent runs: one
// generic reconciler per node-placed kind, which owns the object's node
// finalizer and hands the host work to that kind's Driver.
package system

import (
	"log/slog"

	"github.com/humstack/humstack/internal/controller"
)

// Options configure the system controllers of one node.
type Options struct {
	Node string
	Log  *slog.Logger
}

// Setup adds the system controllers of node opts.Node to m.
func Setup(m *controller.Manager, opts Options) error {
	return nil
}
