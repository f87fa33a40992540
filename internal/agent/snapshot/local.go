package snapshot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/agent/downloadapi"
	"github.com/humstack/humstack/internal/controller"
)

// fetch is one fetch of a snapshot's files into the cache, shared by
// every caller that needs them meanwhile.
type fetch struct {
	done chan struct{}
	err  error
	// waiters are the callers waiting for it (under Node.mu); when the
	// last one gives up, the fetch is abandoned: cancelled, and a later
	// caller waits for it to end and starts a new one.
	waiters   int
	abandoned bool
	cancel    context.CancelFunc
}

// Local implements vm.SnapshotFiles: the paths of the snapshot's files on
// this node, fetched into the cache first when another node holds them.
func (n *Node) Local(ctx context.Context, snap *api.Snapshot) (disks []string, memory string, err error) {
	m := &snap.Meta
	if snap.Status.State != api.SnapshotReady {
		return nil, "", fmt.Errorf("snapshot %s/%s is %q, not Ready: %w", m.Namespace, m.ID, snap.Status.State, api.ErrConflict)
	}
	names, mem, err := files(&snap.Status)
	if err != nil {
		return nil, "", fmt.Errorf("snapshot %s/%s: %w", m.Namespace, m.ID, err)
	}
	dir := n.Dir(m)
	if snap.Status.Node != n.cfg.Node {
		dir = n.CacheDir(m)
		if err := n.fetchOnce(ctx, snap, dir); err != nil {
			return nil, "", err
		}
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, "", fmt.Errorf("snapshot %s/%s has no files on node %s: %w", m.Namespace, m.ID, n.cfg.Node, err)
	}
	for _, name := range names {
		disks = append(disks, filepath.Join(dir, name))
	}
	if mem != "" {
		memory = filepath.Join(dir, mem)
	}
	return disks, memory, nil
}

// fetchOnce fetches the snapshot into dir unless it is there; concurrent
// callers wait for the one fetch, which is cancelled when the last of
// them gives up (nobody needs it; a stalled holder must not keep it).
func (n *Node) fetchOnce(ctx context.Context, snap *api.Snapshot, dir string) error {
	for {
		n.mu.Lock()
		if _, err := os.Stat(dir); err == nil {
			n.mu.Unlock()
			return nil
		}
		f := n.fetches[dir]
		if f != nil && f.abandoned { // ending: the next one starts after it
			n.mu.Unlock()
			select {
			case <-f.done:
				continue
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if f == nil {
			f = n.startFetch(ctx, snap, dir)
		}
		f.waiters++
		n.mu.Unlock()
		select {
		case <-f.done:
			return f.err
		case <-ctx.Done():
			n.mu.Lock()
			if f.waiters--; f.waiters == 0 {
				f.abandoned = true
				f.cancel()
			}
			n.mu.Unlock()
			return ctx.Err()
		}
	}
}

// startFetch starts the fetch of snap into dir (n.mu held). It runs on
// its own context (it outlives the caller that started it while others
// wait), keeping ctx's values (the logger).
func (n *Node) startFetch(ctx context.Context, snap *api.Snapshot, dir string) *fetch {
	fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	f := &fetch{done: make(chan struct{}), cancel: cancel}
	n.fetches[dir] = f
	s := *snap
	go func() {
		defer cancel()
		f.err = n.fetch(fctx, &s, dir)
		n.mu.Lock()
		delete(n.fetches, dir)
		n.mu.Unlock()
		close(f.done)
	}()
	return f
}

// fetch downloads every file of snap from its node into a temporary
// directory, checks each one's sha256, and renames the directory to dir.
func (n *Node) fetch(ctx context.Context, snap *api.Snapshot, dir string) error {
	m, st := &snap.Meta, &snap.Status
	if st.DownloadHost == "" {
		return fmt.Errorf("snapshot %s/%s is on node %s, which has no node listener: %w", m.Namespace, m.ID, st.Node, api.ErrConflict)
	}
	tmp := dir + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	if err := os.MkdirAll(tmp, 0o750); err != nil {
		return err
	}
	defer func() { // after a failure: with what its files were rebased on
		if err := n.remove(context.WithoutCancel(ctx), n.cacheDir(), tmp); err != nil {
			controller.Logger(ctx).Error("snapshot fetch: cleanup failed", "dir", tmp, "err", err)
		}
	}()
	all := append([]api.SnapshotFile(nil), st.Disks...)
	if st.Memory != nil {
		all = append(all, *st.Memory)
	}
	for _, f := range all {
		if err := n.get(ctx, snap, f, filepath.Join(tmp, f.File)); err != nil {
			return err
		}
	}
	// A disk file on an image entity names the entity's file on the
	// holder: it is pointed at this node's copy of the same entity.
	for _, d := range st.Disks {
		if d.ImageEntity == "" {
			continue
		}
		if err := n.cfg.Disks.RebaseOnEntity(ctx, filepath.Join(tmp, d.File), d.ImageEntity); err != nil {
			return fmt.Errorf("snapshot %s/%s: %s: %w", m.Namespace, m.ID, d.File, err)
		}
	}
	if err := commitDir(tmp, dir); err != nil {
		return err
	}
	return n.keepFetched(ctx, snap, dir)
}

// keepFetched keeps dir, just fetched, only if its snapshot still exists
// under the same uid: one deleted meanwhile (or before a caller holding an
// old copy asked) had its cache dropped already, and nothing else would
// drop this one.
func (n *Node) keepFetched(ctx context.Context, snap *api.Snapshot, dir string) error {
	m := &snap.Meta
	if n.snaps != nil {
		o, ok := n.snaps.Get(controller.KeyOf(snap))
		if !ok || o.GetMeta().UID != m.UID {
			err := fmt.Errorf("snapshot %s/%s (uid %s) is gone: %w", m.Namespace, m.ID, m.UID, api.ErrNotFound)
			return errors.Join(err, n.remove(context.WithoutCancel(ctx), n.cacheDir(), dir))
		}
	}
	controller.Logger(ctx).Info("snapshot fetched", "snapshot", m.Group+"/"+m.Namespace+"/"+m.ID, "from", snap.Status.Node, "dir", dir)
	return nil
}

// get downloads one file of snap to path and checks it. A holder that
// does not answer, or whose body stops flowing, for StallTimeout fails it
// (a dial timeout alone would let a stalled holder hold the fetch, and
// the restores waiting on it, forever).
func (n *Node) get(ctx context.Context, snap *api.Snapshot, f api.SnapshotFile, path string) error {
	m, st := &snap.Meta, &snap.Status
	if !validFile(f.File) {
		return fmt.Errorf("snapshot %s/%s names file %q: %w", m.Namespace, m.ID, f.File, api.ErrInvalid)
	}
	p := downloadapi.SnapshotPath(m.Group, m.Namespace, m.ID, f.File)
	url, hc := "http://"+st.DownloadHost+p, http.DefaultClient
	if n.cfg.Peer != nil { // mutual TLS with the holder
		url, hc = "https://"+st.DownloadHost+p, n.cfg.Peer(st.Node)
	}
	ctx, w := newWatchdog(ctx, n.cfg.StallTimeout, fmt.Errorf("fetch %s: node %s sent nothing for %s: %w", url, st.Node, n.cfg.StallTimeout, api.ErrUnavailable))
	defer w.stop()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if n.cfg.Peer == nil {
		downloadapi.Authorize(req, n.cfg.Secret)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return w.explain(fmt.Errorf("fetch %s: %w", url, err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetch %s: HTTP %s", url, resp.Status)
	}
	out, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	h := sha256.New()
	size, err := io.Copy(io.MultiWriter(out, h), w.reader(resp.Body))
	if err == nil {
		err = out.Sync()
	}
	if err = errors.Join(err, out.Close()); err != nil {
		return w.explain(fmt.Errorf("fetch %s: %w", url, err))
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != f.SHA256 || size != f.Size {
		return fmt.Errorf("fetch %s: got %d bytes with sha256 %s, want %d bytes with %s: discarded", url, size, got, f.Size, f.SHA256)
	}
	return nil
}

// SnapshotFile implements downloadapi.SnapshotFiles: the file of a
// snapshot this node holds, or "" (the route answers 404). The snapshot's
// directory gets its name only when every file in it is complete, so its
// existence is what counts: this node's cache may not show the Ready
// status it just wrote while another node, which saw it, already asks.
func (n *Node) SnapshotFile(group, namespace, id, file string) string {
	o, ok := n.snaps.Get(controller.Key{Group: group, Namespace: namespace, ID: id})
	if !ok || !validFile(file) {
		return ""
	}
	s := o.(*api.Snapshot)
	if s.Status.Node != n.cfg.Node && !slices.Contains(s.Meta.Finalizers, api.FinalizerNodePrefix+n.cfg.Node) {
		return ""
	}
	path := filepath.Join(n.Dir(&s.Meta), file)
	if fi, err := os.Stat(path); err != nil || !fi.Mode().IsRegular() {
		return ""
	}
	return path
}
