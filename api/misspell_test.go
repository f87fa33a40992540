package api

import (
	"reflect"
	"slices"
	"testing"
)

func TestClosest(t *testing.T) {
	known := map[string]reflect.Type{}
	for _, k := range []string{"parallelLimit", "imageDirPath", "blockStorageDirPath", "id", "ip", "name", "nodeName"} {
		known[k] = nil
	}
	for in, want := range map[string]string{
		"parallelLimt":  "parallelLimit", // letter left out
		"paralelLimitt": "parallelLimit", // two edits, long name
		"imageDriPath":  "imageDirPath",  // swapped letters: one edit
		"nmae":          "name",          // swap in a short name
		"nam":           "name",
		"i":             "", // id and ip tie
		"nodeNmaes":     "nodeName",
		"parallel":      "", // too far from everything
		"zzz":           "",
	} {
		if got := closest(in, known); got != want {
			t.Errorf("closest(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestEditDistance(t *testing.T) {
	for _, c := range []struct {
		a, b string
		d    int
	}{{"", "", 0}, {"a", "", 1}, {"", "abc", 3}, {"abc", "abc", 0}, {"abc", "acb", 1}, {"kitten", "sitting", 3}, {"ca", "abc", 3}} {
		if got := editDistance(c.a, c.b); got != c.d {
			t.Errorf("editDistance(%q, %q) = %d, want %d", c.a, c.b, got, c.d)
		}
	}
}

// TestUnknownFieldsAll: every unknown field is named, nested ones by
// path, not only the first.
func TestUnknownFieldsAll(t *testing.T) {
	type inner struct {
		DevName string `json:"devName"`
	}
	type outer struct {
		Name  string  `json:"name"`
		Inner inner   `json:"inner"`
		List  []inner `json:"list"`
	}
	fe := UnknownFields([]byte(`{"nmae":1,"inner":{"devNmae":"x","zz":1},"list":[{"devName":"a"},{"DevName":"b"}]}`), &outer{})
	var got []string
	for _, f := range fe {
		got = append(got, f.Error())
	}
	want := []string{
		`inner.devNmae: unknown field (did you mean "devName"?)`,
		`inner.zz: unknown field`,
		`list[1].DevName: unknown field (did you mean "devName"?)`,
		`nmae: unknown field (did you mean "name"?)`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}
