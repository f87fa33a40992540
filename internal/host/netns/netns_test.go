package netns

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/humstack/humstack/internal/testenv"
)

// testName is a fresh namespace name with the testenv prefix (hs-n-), so
// a crashed run's leftovers are recognizable; it is deleted at cleanup.
func testName(t *testing.T) string {
	t.Helper()
	testenv.RequireRoot(t)
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "hs-n-" + hex.EncodeToString(b) + "-ns"
	t.Cleanup(func() {
		if err := Delete(name); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return name
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestValidName(t *testing.T) {
	for _, bad := range []string{"", ".", "..", "a/b", strings.Repeat("x", 256), "a\x00b"} {
		if ValidName(bad) == nil {
			t.Errorf("ValidName(%q) = nil", bad)
		}
	}
	for _, good := range []string{"hsr-abc", "hs-lab1-node-b-hsr-abcdefghijkl", strings.Repeat("x", 255)} {
		if err := ValidName(good); err != nil {
			t.Errorf("ValidName(%q) = %v", good, err)
		}
	}
}

// TestCreateIsIdempotent: Create makes the namespace once; again it keeps
// it (same inode) and reports that it made nothing; Delete removes it and
// may be repeated.
func TestCreateIsIdempotent(t *testing.T) {
	name := testName(t)
	if ok, err := Exists(name); err != nil || ok {
		t.Fatalf("Exists before Create = %v, %v", ok, err)
	}
	created, err := Create(name)
	if err != nil || !created {
		t.Fatalf("Create = %v, %v", created, err)
	}
	ino, err := Inode(name)
	must(t, err)
	created, err = Create(name)
	if err != nil || created {
		t.Fatalf("second Create = %v, %v; want false, nil", created, err)
	}
	if again, err := Inode(name); err != nil || again != ino {
		t.Fatalf("inode after the second Create = %d (%v), want %d", again, err, ino)
	}
	// What ip(8) sees is the same namespace.
	if out, err := exec.Command("ip", "netns", "exec", name, "ip", "-o", "link", "show", "lo").CombinedOutput(); err != nil {
		t.Fatalf("ip netns exec: %v: %s", err, out)
	}
	must(t, Delete(name))
	if ok, err := Exists(name); err != nil || ok {
		t.Fatalf("Exists after Delete = %v, %v", ok, err)
	}
	if _, err := os.Stat(Path(name)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("%s left after Delete: %v", Path(name), err)
	}
	must(t, Delete(name))
	if _, err := Open(name); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open of a deleted namespace = %v, want fs.ErrNotExist", err)
	}
}

// TestStaleFile: a plain file where a namespace should be mounted (what a
// mount in another mount namespace leaves visible here) counts as missing,
// and Create mounts a namespace over it.
func TestStaleFile(t *testing.T) {
	name := testName(t)
	must(t, os.MkdirAll(Dir, 0o755))
	must(t, os.WriteFile(Path(name), nil, 0o444))
	if ok, err := Exists(name); err != nil || ok {
		t.Fatalf("Exists on a plain file = %v, %v", ok, err)
	}
	if created, err := Create(name); err != nil || !created {
		t.Fatalf("Create over a plain file = %v, %v", created, err)
	}
	if ok, _ := Exists(name); !ok {
		t.Fatal("not mounted after Create")
	}
}

// TestDo: fn runs inside the namespace (its own inode, its own sysctls);
// the caller's namespace is untouched.
func TestDo(t *testing.T) {
	name := testName(t)
	_, err := Create(name)
	must(t, err)
	ino, err := Inode(name)
	must(t, err)
	var hostBefore unix.Stat_t
	must(t, unix.Stat("/proc/thread-self/ns/net", &hostBefore))
	var inside unix.Stat_t
	var self string
	must(t, Do(name, func() error {
		if err := unix.Stat("/proc/thread-self/ns/net", &inside); err != nil {
			return err
		}
		self, err = SelfName()
		return err
	}))
	if inside.Ino != ino {
		t.Fatalf("fn ran in namespace %d, want %d", inside.Ino, ino)
	}
	if self != name {
		t.Fatalf("SelfName inside = %q, want %q", self, name)
	}
	must(t, SetSysctls(name, map[string]string{"ipv4/ip_forward": "1"}))
	var got []byte
	must(t, Do(name, func() error {
		var err error
		got, err = os.ReadFile("/proc/sys/net/ipv4/ip_forward")
		return err
	}))
	if strings.TrimSpace(string(got)) != "1" {
		t.Fatalf("ip_forward inside = %q", got)
	}
	if err := Do(name+"-missing", func() error { return nil }); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Do in a missing namespace = %v", err)
	}
	var hostAfter unix.Stat_t
	must(t, unix.Stat("/proc/thread-self/ns/net", &hostAfter))
	if hostAfter.Ino != hostBefore.Ino {
		t.Fatal("the caller's thread changed namespace")
	}
}

// TestConcurrentCreate: callers racing on one name get one namespace.
func TestConcurrentCreate(t *testing.T) {
	name := testName(t)
	errs := make(chan error, 8)
	made := make(chan bool, 8)
	for range 8 {
		go func() {
			c, err := Create(name)
			errs <- err
			made <- c
		}()
	}
	n := 0
	for range 8 {
		must(t, <-errs)
		if <-made {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d callers made the namespace, want 1", n)
	}
	must(t, Delete(name))
	if ok, _ := Exists(name); ok {
		t.Fatal("a second mount was stacked: still mounted after Delete")
	}
}

// TestMountNewRestoresThread: the thread that made a namespace is back in
// its own afterwards. A thread left in the new one is harmless when it is
// discarded, but Go cannot discard the process's main thread: the agent
// once showed a router's namespace as its own in /proc/<pid>/ns/net.
func TestMountNewRestoresThread(t *testing.T) {
	name := testName(t)
	must(t, prepareDir())
	f, err := os.OpenFile(Path(name), os.O_RDONLY|os.O_CREATE, 0o444)
	must(t, err)
	f.Close()
	type result struct {
		before, after uint64
		restored      bool
		err           error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		var r result
		r.before = threadNetns(t)
		r.restored, r.err = mountNewHere(Path(name))
		r.after = threadNetns(t)
		done <- r
	}()
	r := <-done
	if r.err != nil || !r.restored || r.after != r.before {
		t.Fatalf("mountNewHere: restored %v, err %v; thread netns %d before, %d after", r.restored, r.err, r.before, r.after)
	}
	ino, err := Inode(name)
	if err != nil || ino == r.before {
		t.Fatalf("the new namespace: inode %d (%v), the thread's own %d", ino, err, r.before)
	}
}

// threadNetns is the inode of the calling thread's network namespace.
func threadNetns(t *testing.T) uint64 {
	var st unix.Stat_t
	if err := unix.Stat("/proc/thread-self/ns/net", &st); err != nil {
		t.Error(err)
	}
	return st.Ino
}
