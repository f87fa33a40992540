package api

import (
	"encoding/json"
	"reflect"
	"testing"
)

var exactKeysDocs = []string{
	`{"meta":{"apiType":"systemv0/network","id":"n","labels":{"Any":"x"}},"spec":{"ipv4CIDR":"10.0.0.0/24"}}`,
	`{"meta":{"apiType":"systemv0/network","id":"n"},"spec":{"ipv4cidr":"10.0.0.0/24"}}`,
	`{"meta":{"apiType":"systemv0/network","id":"n"},"spec":{"ipv4CIDR":"10.0.0.0/24","nope":[1,{"a":"}"}]}}`,
	`{"meta":{"apiType":"systemv0/virtualmachine","id":"v"},"spec":{"nics":[{"networkID":"n","ipv4Address":"10.0.0.1"},{"NetworkID":"m"}]}}`,
	`{"meta":{"apiType":"systemv0/virtualmachine","id":"v"},"spec":{"nics":[{"networkID":"n","nameservers":["a","b"]}],"blockStorageIDs":["x"]}}`,
	`{"meta":{"apiType":"systemv0/network","id":"n"},"spec":{"ipv\u0034CIDR":"10.0.0.0/24"}}`,
	`{"meta":{"apiType":"systemv0/network","id":"n","annotations":{"a\"b":"c\\"}},"spec":{"id":"100"}}`,
	` { "meta" : { "id" : "n" , "labels" : { } } , "spec" : { "ipv4CIDR" : null } } `,
}

// TestExactKeys: a key matching its field only up to case, an unknown key
// and an escaped key are not passed; clean documents are.
func TestExactKeys(t *testing.T) {
	want := []bool{true, false, false, false, true, false, true, true}
	for i, doc := range exactKeysDocs {
		typ := reflect.TypeFor[*Network]()
		if i == 3 || i == 4 {
			typ = reflect.TypeFor[*VirtualMachine]()
		}
		if got := exactKeys([]byte(doc), typ); got != want[i] {
			t.Errorf("doc %d: exactKeys = %v, want %v\n%s", i, got, want[i], doc)
		}
	}
}

// FuzzExactKeys: whenever exactKeys passes a document, UnknownFields
// finds nothing in it (the fast check never lets through what the full one
// refuses).
func FuzzExactKeys(f *testing.F) {
	for _, d := range exactKeysDocs {
		f.Add([]byte(d))
	}
	f.Fuzz(func(t *testing.T, js []byte) {
		if !json.Valid(js) {
			return
		}
		for _, k := range Kinds() {
			obj := k.New()
			if exactKeys(js, reflect.TypeOf(obj)) {
				if fe := UnknownFields(js, obj); len(fe) > 0 {
					t.Fatalf("%s: exactKeys passed %s; UnknownFields: %v", k.Name, js, fe)
				}
			}
		}
	})
}
