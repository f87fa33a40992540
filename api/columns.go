package api

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

func name(o Object) string { return o.GetMeta().Name }

func state(o Object) string {
	s, _ := StatusOf(o)
	return s
}

func message(o Object) string {
	_, m := StatusOf(o)
	return m
}

func itoa(n int) string { return strconv.Itoa(n) }

func itoa64(n int64) string { return strconv.FormatInt(n, 10) }

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

// progress shows a running transfer as "done/total MiB (pct%)", or the bytes
// done when the total is unknown.
func progress(st BlockStorageStatus) string {
	const mib = 1 << 20
	switch {
	case st.Total > 0:
		return fmt.Sprintf("%.1f/%.1f MiB (%d%%)", float64(st.Downloaded)/mib, float64(st.Total)/mib, st.Downloaded*100/st.Total)
	case st.Downloaded > 0:
		return fmt.Sprintf("%.1f MiB", float64(st.Downloaded)/mib)
	}
	return ""
}

// short cuts s to n characters (a hash's prefix identifies it).
func short(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
