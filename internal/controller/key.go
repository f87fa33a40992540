package controller

import "github.com/humstack/humstack/api"

// Key names one object of a kind: its scope and id.
type Key struct {
	Group, Namespace, ID string
}

// KeyOf returns the key of obj.
func KeyOf(obj api.Object) Key {
	m := obj.GetMeta()
	return Key{Group: m.Group, Namespace: m.Namespace, ID: m.ID}
}

func (k Key) String() string {
	switch {
	case k.Namespace != "":
		return k.Group + "/" + k.Namespace + "/" + k.ID
	case k.Group != "":
		return k.Group + "/" + k.ID
	}
	return k.ID
}
