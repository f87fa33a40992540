package core

import (
	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/controller"
)

// SetupResetQueue adds the reset queue alone to m, for the tests of the
// queue: the other Core controllers (the environment's above all) would
// act on the environments the tests write by hand.
func SetupResetQueue(m *controller.Manager, ro ResetOptions) {
	setupResets(m, func(k *api.Kind) *controller.Informer { return m.Informer(k, "", nil) }, controller.Options{Log: m.Log}, ro)
}
