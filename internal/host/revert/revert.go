// Package revert undoes a partly made multi-step host change.
//
// Each step that changes the host registers how to undo itself; if a later
// step fails, Fail runs the undos in reverse order, and Success forgets
// them once every step is done:
//
//	r := revert.New()
//	defer r.Fail()
//	... make A; r.Add(undoA)
//	... make B (may fail: A is undone)
//	r.Success()
package revert

// Reverter collects undo steps. The zero value is ready to use. It is not
// safe for concurrent use.
type Reverter struct {
	undo []func()
}

// New returns an empty Reverter.
func New() *Reverter { return &Reverter{} }

// Add registers undo, run by Fail before every undo added earlier.
func (r *Reverter) Add(undo func()) { r.undo = append(r.undo, undo) }

// Fail runs the registered undos, newest first, and forgets them; after
// Success it does nothing, so it is safe to defer.
func (r *Reverter) Fail() {
	for i := len(r.undo) - 1; i >= 0; i-- {
		r.undo[i]()
	}
	r.undo = nil
}

// Success forgets the registered undos: the change is complete.
func (r *Reverter) Success() { r.undo = nil }
