package storagetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/storage"
)

// rangeAll collects what Range gives, values copied (fn may not keep them).
func rangeAll(t *testing.T, s storage.Store, prefix string, opts storage.RangeOptions) ([]storage.KV, int64, string) {
	t.Helper()
	var out []storage.KV
	rev, more, err := s.Range(ctx(t), prefix, opts, func(kv storage.KV) error {
		kv.Value = slices.Clone(kv.Value)
		out = append(out, kv)
		return nil
	})
	if err != nil {
		t.Fatalf("Range(%q, %+v): %v", prefix, opts, err)
	}
	return out, rev, more
}

func testRangeOrderAndRevision(t *testing.T, s storage.Store) {
	revs := map[string]int64{}
	for _, k := range []string{"/r/m", "/r/b", "/r/z", "/r/a", "/r/b/c", "/r0/x", "/q/x", "/r"} {
		revs[k] = mustCreate(t, s, k, "v"+k)
	}
	u := mustUpdate(t, s, "/r/m", "updated", 0)
	mustDelete(t, s, "/r/z", 0)
	got, rev, more := rangeAll(t, s, "/r/", storage.RangeOptions{})
	if cur := mustRevision(t, s); rev != cur || more != "" {
		t.Fatalf("Range read at revision %d (more %q), store revision %d", rev, more, cur)
	}
	want := []string{"/r/a", "/r/b", "/r/b/c", "/r/m"}
	if fmt.Sprint(keysOf(got)) != fmt.Sprint(want) {
		t.Fatalf("Range(/r/) = %v, want %v", keysOf(got), want)
	}
	for _, kv := range got {
		if kv.Key == "/r/m" {
			checkKV(t, kv, "/r/m", "updated", revs["/r/m"], u)
			continue
		}
		checkKV(t, kv, kv.Key, "v"+kv.Key, revs[kv.Key], revs[kv.Key])
	}
	list, lrev, err := s.List(ctx(t), "/r/")
	if err != nil || lrev != rev || fmt.Sprint(list) != fmt.Sprint(got) {
		t.Fatalf("List(/r/) = %v at %d (%v), Range gave %v at %d", keysOf(list), lrev, err, keysOf(got), rev)
	}
	none, nrev, more := rangeAll(t, s, "/nothing/", storage.RangeOptions{Limit: 3})
	if len(none) != 0 || nrev != rev || more != "" {
		t.Fatalf("Range of an empty prefix = %v at %d, more %q; want nothing at %d", keysOf(none), nrev, more, rev)
	}
}

func testRangeAfterAndLimit(t *testing.T, s storage.Store) {
	keys := []string{"/p/a", "/p/b", "/p/c", "/p/d", "/p/e"}
	for _, k := range keys {
		mustCreate(t, s, k, "v")
	}
	mustCreate(t, s, "/pz", "outside")
	// Pages of two, each from the last key of the one before.
	var walked []string
	opts := storage.RangeOptions{Limit: 2}
	for page := 0; ; page++ {
		got, _, more := rangeAll(t, s, "/p/", opts)
		walked = append(walked, keysOf(got)...)
		if more == "" {
			break
		}
		if more != got[len(got)-1].Key || page > 3 {
			t.Fatalf("page %d: more %q, last key given %v", page, more, keysOf(got))
		}
		opts.After = more
	}
	if fmt.Sprint(walked) != fmt.Sprint(keys) {
		t.Fatalf("pages of 2 walked %v, want %v", walked, keys)
	}
	cases := []struct {
		opts storage.RangeOptions
		want []string
		more string
	}{
		{storage.RangeOptions{Limit: 5}, keys, ""},         // exactly the rest: nothing more
		{storage.RangeOptions{Limit: 4}, keys[:4], "/p/d"}, // one left
		{storage.RangeOptions{After: "/p/bb"}, keys[2:], ""},
		{storage.RangeOptions{After: "/p/c", Limit: 1}, []string{"/p/d"}, "/p/d"},
		{storage.RangeOptions{After: "/p/e"}, nil, ""},
		{storage.RangeOptions{After: "/a", Limit: 1}, keys[:1], "/p/a"}, // before the prefix: from its start
	}
	for _, c := range cases {
		got, _, more := rangeAll(t, s, "/p/", c.opts)
		if fmt.Sprint(keysOf(got)) != fmt.Sprint(c.want) || more != c.more {
			t.Errorf("Range(/p/, %+v) = %v, more %q; want %v, more %q", c.opts, keysOf(got), more, c.want, c.more)
		}
	}
}

// testRangeManyPages crosses a backend's internal paging (etcd reads
// 1,000 keys per round trip) with limits on either side of it.
func testRangeManyPages(t *testing.T, s storage.Store) {
	const n = 1100
	for i := range n {
		mustCreate(t, s, fmt.Sprintf("/many/%05d", i), "v")
	}
	for _, limit := range []int{999, 1000, 1001, 1099, n} {
		first, rev, more := rangeAll(t, s, "/many/", storage.RangeOptions{Limit: limit})
		rest, rev2, end := rangeAll(t, s, "/many/", storage.RangeOptions{After: more, Limit: n, Rev: rev})
		if limit == n {
			rest = nil
			if more != "" {
				t.Fatalf("limit %d of %d keys: more %q", limit, n, more)
			}
		}
		all := append(first, rest...)
		if len(first) != limit || len(all) != n || rev2 != rev || end != "" {
			t.Fatalf("limit %d: %d keys then %d (at %d, %d; end %q), want %d then %d", limit, len(first), len(rest), rev, rev2, end, limit, n-limit)
		}
		for i, kv := range all {
			if want := fmt.Sprintf("/many/%05d", i); kv.Key != want {
				t.Fatalf("limit %d: key %d is %q, want %q", limit, i, kv.Key, want)
			}
		}
	}
}

// testRangeAtRevision: a later page read at the first page's revision
// leaves out what was created after it; what changed after it is given as
// it was then (etcd) or as it is now (bolt), never twice and never lost
// for a reader that watches from the revision.
func testRangeAtRevision(t *testing.T, s storage.Store) {
	a := mustCreate(t, s, "/v/a", "a")
	mustCreate(t, s, "/v/b", "b")
	c := mustCreate(t, s, "/v/c", "c")
	d := mustCreate(t, s, "/v/d", "d")
	first, rev, more := rangeAll(t, s, "/v/", storage.RangeOptions{Limit: 1})
	if len(first) != 1 || more != "/v/a" || rev != d {
		t.Fatalf("first page %v at %d, more %q", keysOf(first), rev, more)
	}
	mustCreate(t, s, "/v/b0", "new")
	mustDelete(t, s, "/v/b", 0)
	mustUpdate(t, s, "/v/c", "c2", 0)
	mustDelete(t, s, "/v/d", 0)
	mustCreate(t, s, "/v/d", "d again")
	rest, rev2, end := rangeAll(t, s, "/v/", storage.RangeOptions{After: more, Rev: rev})
	if rev2 != rev || end != "" {
		t.Fatalf("page at %d read at %d, more %q", rev, rev2, end)
	}
	got := map[string]storage.KV{}
	for _, kv := range rest {
		got[kv.Key] = kv
	}
	if _, ok := got["/v/b0"]; ok {
		t.Errorf("/v/b0, created after revision %d, given in a page at it", rev)
	}
	if kv, ok := got["/v/d"]; ok && kv.CreateRevision > rev {
		t.Errorf("/v/d recreated after revision %d given in a page at it: %+v", rev, kv)
	}
	then := func(kv storage.KV) bool { return kv.ModRevision == c && string(kv.Value) == "c" }
	now := func(kv storage.KV) bool { return kv.ModRevision > rev && string(kv.Value) == "c2" }
	if kv, ok := got["/v/c"]; !ok || !(then(kv) || now(kv)) || kv.CreateRevision != c {
		t.Errorf("/v/c, updated after revision %d: got %+v (present %v)", rev, kv, ok)
	}
	if first[0].CreateRevision != a || len(rest) > 3 {
		t.Errorf("pages %v then %v", keysOf(first), keysOf(rest))
	}
}

func testRangeRevisionErrors(t *testing.T, s storage.Store) {
	r1 := mustCreate(t, s, "/e/a", "a")
	r2 := mustCreate(t, s, "/e/b", "b")
	mustCreate(t, s, "/e/c", "c")
	fn := func(storage.KV) error { return nil }
	if _, _, err := s.Range(ctx(t), "/e/", storage.RangeOptions{Rev: r2 + 100}, fn); !errors.Is(err, api.ErrInvalid) {
		t.Errorf("Range at a future revision: %v, want class %q", err, api.ErrInvalid)
	}
	c, ok := s.(storage.Compactor)
	if !ok {
		return
	}
	if err := c.Compact(ctx(t), r2); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Range(ctx(t), "/e/", storage.RangeOptions{Rev: r1}, fn); !errors.Is(err, api.ErrGone) {
		t.Errorf("Range at revision %d, compacted at %d: %v, want class %q", r1, r2, err, api.ErrGone)
	}
	if got, _, _ := rangeAll(t, s, "/e/", storage.RangeOptions{}); len(got) != 3 {
		t.Errorf("Range after a compaction gave %v, want the 3 keys", keysOf(got))
	}
}

func testRangeCallbackError(t *testing.T, s storage.Store) {
	for _, k := range []string{"/f/a", "/f/b", "/f/c"} {
		mustCreate(t, s, k, "v")
	}
	stop := errors.New("enough")
	var seen []string
	_, more, err := s.Range(ctx(t), "/f/", storage.RangeOptions{}, func(kv storage.KV) error {
		seen = append(seen, kv.Key)
		if len(seen) == 2 {
			return stop
		}
		return nil
	})
	if err != stop || more != "" || fmt.Sprint(seen) != "[/f/a /f/b]" {
		t.Fatalf("Range whose fn failed at the 2nd key: err %v (want it as is), more %q, seen %v", err, more, seen)
	}
}
