package storagetest

import (
	"fmt"
	"testing"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/storage"
)

func testCreateGet(t *testing.T, s storage.Store) {
	before := mustRevision(t, s)
	rev := mustCreate(t, s, "/a", "one")
	if rev != before+1 {
		t.Fatalf("Create returned revision %d, want %d", rev, before+1)
	}
	checkKV(t, mustGet(t, s, "/a"), "/a", "one", rev, rev)
	_, err := s.Create(ctx(t), "/a", []byte("two"))
	checkErr(t, err, api.ErrAlreadyExists, "/a")
	checkKV(t, mustGet(t, s, "/a"), "/a", "one", rev, rev)
}

func testGetMissing(t *testing.T, s storage.Store) {
	_, err := s.Get(ctx(t), "/missing")
	checkErr(t, err, api.ErrNotFound, "/missing")
	mustCreate(t, s, "/missing/child", "x")
	_, err = s.Get(ctx(t), "/missing")
	checkErr(t, err, api.ErrNotFound, "/missing")
}

func testUpdate(t *testing.T, s storage.Store) {
	_, err := s.Update(ctx(t), "/u", []byte("x"), 0)
	checkErr(t, err, api.ErrNotFound, "/u")

	c := mustCreate(t, s, "/u", "v1")
	u1 := mustUpdate(t, s, "/u", "v2", 0)
	if u1 != c+1 {
		t.Fatalf("unconditional Update returned %d, want %d", u1, c+1)
	}
	checkKV(t, mustGet(t, s, "/u"), "/u", "v2", c, u1)

	_, err = s.Update(ctx(t), "/u", []byte("stale"), c)
	checkErr(t, err, api.ErrConflict, "/u")
	checkKV(t, mustGet(t, s, "/u"), "/u", "v2", c, u1)

	u2 := mustUpdate(t, s, "/u", "v3", u1)
	if u2 != u1+1 {
		t.Fatalf("conditional Update returned %d, want %d", u2, u1+1)
	}
	checkKV(t, mustGet(t, s, "/u"), "/u", "v3", c, u2)
}

func testDelete(t *testing.T, s storage.Store) {
	_, err := s.Delete(ctx(t), "/d", 0)
	checkErr(t, err, api.ErrNotFound, "/d")

	c := mustCreate(t, s, "/d", "v1")
	u := mustUpdate(t, s, "/d", "v2", c)
	_, err = s.Delete(ctx(t), "/d", c)
	checkErr(t, err, api.ErrConflict, "/d")
	checkKV(t, mustGet(t, s, "/d"), "/d", "v2", c, u)

	d := mustDelete(t, s, "/d", u)
	if d != u+1 {
		t.Fatalf("Delete returned %d, want %d", d, u+1)
	}
	_, err = s.Get(ctx(t), "/d")
	checkErr(t, err, api.ErrNotFound, "/d")
	_, err = s.Delete(ctx(t), "/d", 0)
	checkErr(t, err, api.ErrNotFound, "/d")

	mustCreate(t, s, "/d2", "x")
	if d2 := mustDelete(t, s, "/d2", 0); d2 != d+2 {
		t.Fatalf("unconditional Delete returned %d, want %d", d2, d+2)
	}
}

func testRecreateAfterDelete(t *testing.T, s storage.Store) {
	c1 := mustCreate(t, s, "/r", "old")
	mustDelete(t, s, "/r", c1)
	c2 := mustCreate(t, s, "/r", "new")
	checkKV(t, mustGet(t, s, "/r"), "/r", "new", c2, c2)
	_, err := s.Update(ctx(t), "/r", []byte("x"), c1)
	checkErr(t, err, api.ErrConflict, "/r")
}

func testRevisionsIncreaseByOne(t *testing.T, s storage.Store) {
	want := mustRevision(t, s)
	step := func(rev int64) {
		t.Helper()
		want++
		if rev != want {
			t.Fatalf("write returned revision %d, want %d", rev, want)
		}
		if got := mustRevision(t, s); got != want {
			t.Fatalf("Revision() = %d after a write at %d", got, want)
		}
	}
	a := mustCreate(t, s, "/seq/a", "1")
	step(a)
	b := mustCreate(t, s, "/seq/b", "1")
	step(b)
	a2 := mustUpdate(t, s, "/seq/a", "2", a)
	step(a2)
	step(mustCreate(t, s, "/other/c", "1"))
	step(mustDelete(t, s, "/seq/b", b))
	step(mustUpdate(t, s, "/seq/a", "3", a2))
	checkKV(t, mustGet(t, s, "/seq/a"), "/seq/a", "3", a, want)
}

func testFailedWritesKeepRevision(t *testing.T, s storage.Store) {
	c := mustCreate(t, s, "/f", "v")
	c2 := mustCreate(t, s, "/f2", "v")
	failures := []error{}
	_, err := s.Create(ctx(t), "/f", []byte("again"))
	failures = append(failures, err)
	_, err = s.Update(ctx(t), "/f", []byte("x"), c2)
	failures = append(failures, err)
	_, err = s.Update(ctx(t), "/nope", []byte("x"), 0)
	failures = append(failures, err)
	_, err = s.Delete(ctx(t), "/f", c2)
	failures = append(failures, err)
	_, err = s.Delete(ctx(t), "/nope", 0)
	failures = append(failures, err)
	for i, err := range failures {
		if err == nil {
			t.Fatalf("failing write %d succeeded", i)
		}
	}
	if got := mustRevision(t, s); got != c2 {
		t.Fatalf("Revision() = %d after failed writes, want %d", got, c2)
	}
	if next := mustCreate(t, s, "/f3", "v"); next != c2+1 {
		t.Fatalf("next write got revision %d, want %d", next, c2+1)
	}
	checkKV(t, mustGet(t, s, "/f"), "/f", "v", c, c)
}

func testErrorsNameKey(t *testing.T, s storage.Store) {
	key := "/vms/default/errors-name-key"
	_, err := s.Get(ctx(t), key)
	checkErr(t, err, api.ErrNotFound, key)
	_, err = s.Update(ctx(t), key, nil, 0)
	checkErr(t, err, api.ErrNotFound, key)
	_, err = s.Delete(ctx(t), key, 0)
	checkErr(t, err, api.ErrNotFound, key)
	rev := mustCreate(t, s, key, "x")
	_, err = s.Create(ctx(t), key, []byte("y"))
	checkErr(t, err, api.ErrAlreadyExists, key)
	_, err = s.Update(ctx(t), key, nil, rev+100)
	checkErr(t, err, api.ErrConflict, key)
	_, err = s.Delete(ctx(t), key, rev+100)
	checkErr(t, err, api.ErrConflict, key)
}

func testValueIsolation(t *testing.T, s storage.Store) {
	in := []byte("original")
	rev, err := s.Create(ctx(t), "/iso", in)
	if err != nil {
		t.Fatal(err)
	}
	copy(in, "CHANGED!")
	got := mustGet(t, s, "/iso")
	checkKV(t, got, "/iso", "original", rev, rev)
	copy(got.Value, "CHANGED!")
	checkKV(t, mustGet(t, s, "/iso"), "/iso", "original", rev, rev)
	list, _, err := s.List(ctx(t), "/iso")
	if err != nil || len(list) != 1 {
		t.Fatalf("List = %v, %v; want one key", list, err)
	}
	copy(list[0].Value, "CHANGED!")
	checkKV(t, mustGet(t, s, "/iso"), "/iso", "original", rev, rev)

	empty := mustCreate(t, s, "/iso-empty", "")
	checkKV(t, mustGet(t, s, "/iso-empty"), "/iso-empty", "", empty, empty)
}

func testListOrderAndRevision(t *testing.T, s storage.Store) {
	keys := []string{"/l/m", "/l/b", "/l/z", "/l/a", "/l/b/c", "/l/a0"}
	revs := map[string]int64{}
	for _, k := range keys {
		revs[k] = mustCreate(t, s, k, "v"+k)
	}
	u := mustUpdate(t, s, "/l/m", "updated", 0)
	mustDelete(t, s, "/l/z", 0)
	mustCreate(t, s, "/m/outside", "x")
	mustCreate(t, s, "/k/outside", "x")

	list, rev, err := s.List(ctx(t), "/l/")
	if err != nil {
		t.Fatal(err)
	}
	if cur := mustRevision(t, s); rev != cur {
		t.Fatalf("List read revision %d, store revision %d", rev, cur)
	}
	want := []string{"/l/a", "/l/a0", "/l/b", "/l/b/c", "/l/m"}
	if len(list) != len(want) {
		t.Fatalf("List returned %d keys %v, want %v", len(list), keysOf(list), want)
	}
	for i, kv := range list {
		if kv.Key != want[i] {
			t.Fatalf("List order %v, want %v", keysOf(list), want)
		}
		if kv.Key == "/l/m" {
			checkKV(t, kv, "/l/m", "updated", revs["/l/m"], u)
			continue
		}
		checkKV(t, kv, kv.Key, "v"+kv.Key, revs[kv.Key], revs[kv.Key])
	}

	all, _, err := s.List(ctx(t), "")
	if err != nil || len(all) != len(want)+2 {
		t.Fatalf("List(\"\") = %v, %v; want %d keys", keysOf(all), err, len(want)+2)
	}
	none, rev2, err := s.List(ctx(t), "/nothing/")
	if err != nil || len(none) != 0 || rev2 != rev {
		t.Fatalf("List of an empty prefix = %v, %d, %v; want no keys at %d", keysOf(none), rev2, err, rev)
	}
}

func testListPrefixIsolation(t *testing.T, s storage.Store) {
	for i := range 3 {
		mustCreate(t, s, fmt.Sprintf("/vms/g/vm%d", i), "g")
		mustCreate(t, s, fmt.Sprintf("/vms/g1/vm%d", i), "g1")
	}
	mustCreate(t, s, "/vms/g", "bare")
	mustCreate(t, s, "/vms/g0", "g0")
	list, _, err := s.List(ctx(t), "/vms/g/")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/vms/g/vm0", "/vms/g/vm1", "/vms/g/vm2"}
	if fmt.Sprint(keysOf(list)) != fmt.Sprint(want) {
		t.Fatalf("List(/vms/g/) = %v, want %v", keysOf(list), want)
	}
	list, _, err = s.List(ctx(t), "/vms/g1/")
	if err != nil || len(list) != 3 || list[0].Key != "/vms/g1/vm0" {
		t.Fatalf("List(/vms/g1/) = %v, %v", keysOf(list), err)
	}
}

func keysOf(list []storage.KV) []string {
	keys := make([]string, len(list))
	for i, kv := range list {
		keys[i] = kv.Key
	}
	return keys
}
