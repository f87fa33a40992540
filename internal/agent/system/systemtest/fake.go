// Package systemtest provides a fake system.Driver that keeps its "host"
// in memory and counts calls, for testing reconcilers without root.
package systemtest

import (
	"context"
	"sync"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/agent/system"
	"github.com/humstack/humstack/internal/controller"
)

// Fake is a Driver whose host is a set of realized object keys. Share one
// Fake across agent restarts to model a host that outlives its agent.
type Fake struct {
	mu      sync.Mutex
	host    map[controller.Key]bool
	applies map[controller.Key]int
	creates int
	removes int
	// State is what Apply reports (default "Running").
	State string
	// Err, if set, is returned by Apply.
	Err error
}

// NewFake returns an empty fake host.
func NewFake() *Fake {
	return &Fake{host: map[controller.Key]bool{}, applies: map[controller.Key]int{}, State: "Running"}
}

// Apply implements system.Driver: it "creates" the object on first sight.
func (f *Fake) Apply(_ context.Context, obj api.Object) (controller.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := controller.KeyOf(obj)
	f.applies[k]++
	if f.Err != nil {
		system.SetState(obj, "Error", f.Err.Error())
		return controller.Result{}, f.Err
	}
	if !f.host[k] {
		f.host[k] = true
		f.creates++
	}
	system.SetState(obj, f.State, "")
	return controller.Result{}, nil
}

// Remove implements system.Driver.
func (f *Fake) Remove(_ context.Context, obj api.Object) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := controller.KeyOf(obj)
	if f.host[k] {
		delete(f.host, k)
		f.removes++
	}
	return nil
}

// Counts returns how many objects were created and removed on the host,
// and how many Apply calls each key got.
func (f *Fake) Counts() (creates, removes int, applies map[controller.Key]int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a := make(map[controller.Key]int, len(f.applies))
	for k, v := range f.applies {
		a[k] = v
	}
	return f.creates, f.removes, a
}

// Has reports whether k is realized on the fake host.
func (f *Fake) Has(k controller.Key) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.host[k]
}

// Len is the number of realized objects.
func (f *Fake) Len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.host)
}
