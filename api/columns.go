package api

import (
	"sort"
	"strconv"
	"strings"
)

func name(o Object) string { return o.GetMeta().Name }

func itoa(n int) string { return strconv.Itoa(n) }

func withPrefix(addr string, prefix int) string {
	if prefix == 0 {
		return addr
	}
	return addr + "/" + itoa(prefix)
}

func annotation(key string) func(Object) string {
	return func(o Object) string { return o.GetMeta().Annotations[key] }
}

func join(s []string) string { return strings.Join(s, ",") }

func nodeStates(m map[string]StateStatus) string {
	var s []string
	for n, st := range m {
		s = append(s, n+"="+st.State)
	}
	sort.Strings(s)
	return join(s)
}

func tagList(m map[string]string) string {
	var s []string
	for t, e := range m {
		s = append(s, t+"="+e)
	}
	sort.Strings(s)
	return join(s)
}
