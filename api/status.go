package api

import (
	"reflect"
	"slices"
	"sort"
	"strings"
)

// StatusOf returns an object's status.state and status.message, for kinds
// whose status has them (read by field name, so a new kind with a state and
// a message needs nothing here). A network's status is per node: its state
// and message sum up the nodes' entries ("node-b: in use by ..."). Kinds
// without a state give "", "".
func StatusOf(o Object) (state, message string) {
	if n, ok := o.(*Network); ok {
		return networkStatus(n.Status)
	}
	v := reflect.ValueOf(o)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return "", ""
	}
	st := v.Elem().FieldByName("Status")
	if !st.IsValid() || st.Kind() != reflect.Struct {
		return "", ""
	}
	return stringField(st, "State"), stringField(st, "Message")
}

func stringField(v reflect.Value, name string) string {
	if f := v.FieldByName(name); f.IsValid() && f.Kind() == reflect.String {
		return f.String()
	}
	return ""
}

// networkStatus joins the distinct states of a network's nodes and the
// nodes' messages, in node order.
func networkStatus(st NetworkStatus) (string, string) {
	nodes := make([]string, 0, len(st.Nodes))
	for n := range st.Nodes {
		nodes = append(nodes, n)
	}
	sort.Strings(nodes)
	var states, msgs []string
	for _, n := range nodes {
		e := st.Nodes[n]
		if !slices.Contains(states, e.State) && e.State != "" {
			states = append(states, e.State)
		}
		if e.Message != "" {
			msgs = append(msgs, n+": "+e.Message)
		}
	}
	return strings.Join(states, ","), strings.Join(msgs, "; ")
}
