// Package core holds the cluster-wide controllers a Core agent runs:
// cascading deletion of groups and namespaces, and external IP bookkeeping.
package core

import (
	"log/slog"

	"github.com/humstack/humstack/internal/controller"
)

// Options configure the core controllers.
type Options struct {
	Log *slog.Logger
}

// Setup adds the core controllers to m.
func Setup(m *controller.Manager, opts Options) error {
	return nil
}
