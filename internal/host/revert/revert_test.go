package revert

import (
	"reflect"
	"testing"
)

func TestReverter(t *testing.T) {
	t.Run("fail undoes newest first, once", func(t *testing.T) {
		var got []int
		r := New()
		for i := 1; i <= 3; i++ {
			r.Add(func() { got = append(got, i) })
		}
		r.Fail()
		r.Fail()
		if want := []int{3, 2, 1}; !reflect.DeepEqual(got, want) {
			t.Fatalf("undo order %v, want %v", got, want)
		}
	})
	t.Run("success keeps the change", func(t *testing.T) {
		ran := false
		r := New()
		r.Add(func() { ran = true })
		r.Success()
		r.Fail()
		if ran {
			t.Fatal("undo ran after Success")
		}
	})
	t.Run("zero value", func(t *testing.T) {
		var r Reverter
		r.Fail()
		r.Success()
	})
}
