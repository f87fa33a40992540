package storage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/agent/downloadapi"
	"github.com/humstack/humstack/internal/agent/system"
	"github.com/humstack/humstack/internal/controller"
	"github.com/humstack/humstack/internal/host/qcow2"
)

// cacheDir is the image cache under imageDir; a group (a DNS label) can
// never be named like it.
const cacheDir = ".cache"

// EntityFile is where this node keeps the file of an entity it holds.
func (d *Driver) EntityFile(group, id string) string {
	return filepath.Join(d.imageDir, group, id+".qcow2")
}

// ImageEntityFile implements downloadapi.Files.
func (d *Driver) ImageEntityFile(group, id string) string { return d.EntityFile(group, id) }

// cachedFile is where this node caches another node's entity. The name
// carries the content's hash, so an entity re-made under the same id never
// reuses a stale copy.
func (d *Driver) cachedFile(group, id, sum string) string {
	return filepath.Join(d.imageDir, cacheDir, group, id+"-"+sum[:16]+".qcow2")
}

// entityOf returns the id of the entity whose file (held or cached) is
// backing, or "" for a disk that is not made from an image.
func (d *Driver) entityOf(backing string) string {
	if backing == "" {
		return ""
	}
	rel, err := filepath.Rel(d.imageDir, backing)
	if err != nil {
		return ""
	}
	parts := strings.Split(rel, string(filepath.Separator))
	name := strings.TrimSuffix(parts[len(parts)-1], ".qcow2")
	switch {
	case len(parts) == 2: // <group>/<id>.qcow2
		return name
	case len(parts) == 3 && parts[0] == cacheDir: // .cache/<group>/<id>-<sum>.qcow2
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			return name[:i]
		}
	}
	return ""
}

// fromImage makes bs an overlay of its image's entity, fetching the entity
// into the cache first when another node holds it. Until the image, the
// tag and an Available entity exist the disk is Pending and says which it
// waits for; the dependency watch brings it back when they change.
func (d *Driver) fromImage(ctx context.Context, bs *api.BlockStorage, path string, limit int64) (controller.Result, error) {
	ent, wait, err := d.entityFor(ctx, bs)
	if err != nil || wait != "" {
		setState(bs, StatePending, wait)
		return controller.Result{}, err
	}
	base, res, ready := d.base(bs, ent)
	if !ready {
		return res, nil
	}
	img, err := qcow2.Info(ctx, base)
	if err != nil {
		setState(bs, StateError, "inspect image: "+err.Error())
		return controller.Result{}, err
	}
	if img.VirtualSize > limit {
		setState(bs, StateError, fmt.Sprintf("image entity %s is %d bytes, larger than spec.limitSize %s", ent.Meta.ID, img.VirtualSize, bs.Spec.LimitSize))
		return controller.Result{}, nil
	}
	if err := d.overlay(ctx, path, limit, base); err != nil {
		setState(bs, StateError, "create overlay: "+err.Error())
		return controller.Result{}, err
	}
	bs.Status.ImageEntity = ent.Meta.ID
	setState(bs, StateActive, "")
	d.events.Event(bs, api.EventNormal, "Copied", "created from image entity %s/%s", ent.Meta.Group, ent.Meta.ID)
	return controller.Result{}, nil
}

// overlay creates the disk on base, under cacheMu so a cached base is not
// released between the check and the creation.
func (d *Driver) overlay(ctx context.Context, path string, limit int64, base string) error {
	d.cacheMu.Lock()
	defer d.cacheMu.Unlock()
	if _, err := os.Stat(base); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return err
	}
	return qcow2.Create(ctx, path, limit, base)
}

// entityFor resolves the disk's image and tag to an Available entity; wait
// says what is missing.
func (d *Driver) entityFor(ctx context.Context, bs *api.BlockStorage) (*api.ImageEntity, string, error) {
	src := bs.Spec.From.BaseImage
	if src == nil || src.ImageName == "" || src.Tag == "" {
		return nil, "spec.from.baseImage.imageName and .tag are required", nil
	}
	if d.client == nil {
		return nil, "", controller.Terminal(errors.New("storage driver has no API client: BaseImage disks cannot be resolved"))
	}
	g := bs.Meta.Group
	img, err := client.For[*api.Image](d.client).Get(ctx, client.Scope{Group: g}, src.ImageName)
	if errors.Is(err, api.ErrNotFound) {
		return nil, fmt.Sprintf("waiting for image %s/%s", g, src.ImageName), nil
	} else if err != nil {
		return nil, "", err
	}
	id, ok := img.Spec.EntityMap[src.Tag]
	if !ok {
		return nil, fmt.Sprintf("waiting for tag %q in image %s/%s", src.Tag, g, src.ImageName), nil
	}
	ent, err := client.For[*api.ImageEntity](d.client).Get(ctx, client.Scope{Group: g}, id)
	if errors.Is(err, api.ErrNotFound) {
		return nil, fmt.Sprintf("waiting for image entity %s/%s (tag %s:%s)", g, id, src.ImageName, src.Tag), nil
	} else if err != nil {
		return nil, "", err
	}
	if ent.Meta.Deleting() {
		return nil, fmt.Sprintf("image entity %s/%s is being deleted", g, id), nil
	}
	if ent.Status.State != EntityAvailable || len(ent.Status.SHA256) != sha256.Size*2 {
		return nil, fmt.Sprintf("waiting for image entity %s/%s to be Available (it is %s)", g, id, orNone(ent.Status.State)), nil
	}
	return ent, "", nil
}

// base returns the local file of ent, starting its fetch when another node
// holds it; ready is false (and bs's status says why) until it is there.
func (d *Driver) base(bs *api.BlockStorage, ent *api.ImageEntity) (string, controller.Result, bool) {
	g, id := ent.Meta.Group, ent.Meta.ID
	var res controller.Result
	if ent.Status.Node == d.node {
		return d.EntityFile(g, id), res, true
	}
	path := d.cachedFile(g, id, ent.Status.SHA256)
	if _, err := os.Stat(path); err == nil {
		return path, res, true
	}
	if ent.Status.DownloadHost == "" {
		setState(bs, StatePending, fmt.Sprintf("image entity %s/%s is on node %s, which has no download API", g, id, ent.Status.Node))
		return "", res, false
	}
	if d.secret == "" && d.peer == nil {
		setState(bs, StateError, fmt.Sprintf("image entity %s/%s is on node %s and this node has no node certificate and no downloadAPI secret to fetch it with", g, id, ent.Status.Node))
		return "", res, false
	}
	url := "http://" + ent.Status.DownloadHost + downloadapi.ImageEntityPath(g, id)
	hc := http.DefaultClient
	if d.peer != nil { // mutual TLS with the node holding the entity
		url = "https://" + ent.Status.DownloadHost + downloadapi.ImageEntityPath(g, id)
		hc = d.peer(ent.Status.Node)
	}
	sum := ent.Status.SHA256
	v := d.runJob("cache:"+path, url+"#"+sum, func(ctx context.Context, j *job) error {
		return d.fetchEntity(ctx, j, hc, url, sum, path)
	})
	report(bs, v, fmt.Sprintf("fetching image entity %s/%s from node %s", g, id, ent.Status.Node))
	if v.State == "" { // fetched just now
		return path, res, true
	}
	return "", controller.Result{RequeueAfter: v.Requeue}, false
}

// fetchEntity downloads an entity's file from another node's download API
// into path, checking its sha256 and that it is a self-contained qcow2.
func (d *Driver) fetchEntity(ctx context.Context, j *job, hc *http.Client, url, sum, path string) error {
	tmp, req, err := d.startPeerDownload(ctx, j, url, path)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	h := sha256.New()
	if err := getWith(ctx, j, hc, req, tmp, h); err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sum {
		return fmt.Errorf("image from %s has sha256 %s, want %s: discarded", url, got, sum)
	}
	img, err := qcow2.Info(ctx, tmp)
	if err != nil {
		return err
	}
	if img.Format != qcow2.FormatQCOW2 || img.BackingFile != "" {
		return fmt.Errorf("image from %s is not a self-contained qcow2", url)
	}
	return os.Rename(tmp, path)
}

// ReleaseBacking removes backing, a cached image entity, once no disk and
// no snapshot file on this node is an overlay of it (the snapshot
// controller calls it after removing a snapshot's files: the entity a
// fetched snapshot file was rebased on is released with it). Other
// backing files are left alone.
func (d *Driver) ReleaseBacking(ctx context.Context, backing string) error {
	return d.releaseCached(ctx, backing)
}

// releaseCached removes a cached image once no disk on this node has it as
// its backing file. Other backing files (an entity this node holds) are
// left alone: the entity's own controller owns them.
func (d *Driver) releaseCached(ctx context.Context, backing string) error {
	cache := filepath.Join(d.imageDir, cacheDir) + string(filepath.Separator)
	if backing == "" || !strings.HasPrefix(backing, cache) || d.snapshotOf(backing) != "" {
		return nil // a snapshot's cache is the snapshot controller's
	}
	d.cacheMu.Lock()
	defer d.cacheMu.Unlock()
	// Disks, and snapshots' disk files (held under d.dir, cached under the
	// snapshot cache), may be overlays of it.
	used := false
	for _, root := range []string{d.dir, filepath.Join(d.imageDir, cacheDir, snapshotsCacheDir)} {
		err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
			if err != nil || used || e.IsDir() || qcow2.IsTemp(e.Name()) || !strings.HasSuffix(p, ".qcow2") {
				return err
			}
			if img, err := qcow2.Info(ctx, p); err == nil && img.BackingFile == backing {
				used = true
			}
			return nil
		})
		if err != nil && !errors.Is(err, fs.ErrNotExist) || used {
			return err
		}
	}
	if err := os.Remove(backing); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	pruneDirs(d.imageDir, filepath.Dir(backing))
	controller.Logger(ctx).Info("cached image released", "path", backing)
	return nil
}

// Dependencies implements system.Dependent: a BaseImage disk placed here
// that is not Active yet waits for images and entities of its group.
func (d *Driver) Dependencies() []system.Dependency {
	waiting := func(changed api.Object, placed []api.Object) []controller.Key {
		var keys []controller.Key
		for _, o := range placed {
			bs := o.(*api.BlockStorage)
			if bs.Meta.Group == changed.GetMeta().Group && bs.Spec.From.Type == api.BlockStorageFromBaseImage && bs.Status.State != StateActive {
				keys = append(keys, controller.KeyOf(bs))
			}
		}
		return keys
	}
	// A VM starting or stopping makes its disks Used or Active.
	attached := func(changed api.Object, placed []api.Object) []controller.Key {
		vm := changed.(*api.VirtualMachine)
		var keys []controller.Key
		for _, o := range placed {
			m := o.GetMeta()
			if m.Group == vm.Meta.Group && m.Namespace == vm.Meta.Namespace && slices.Contains(vm.Spec.BlockStorageIDs, m.ID) {
				keys = append(keys, controller.KeyOf(o))
			}
		}
		return keys
	}
	return []system.Dependency{
		{Kind: api.ImageKind, Keys: waiting}, {Kind: api.ImageEntityKind, Keys: waiting},
		{Kind: api.VirtualMachineKind, Keys: attached},
	}
}

func orNone(s string) string {
	if s == "" {
		return "not started"
	}
	return s
}

// startPeerDownload prepares a download of url from another node's
// download API into a temporary file beside path (the caller removes it,
// or renames it to path once it is checked): the directory, no leftovers
// of an interrupted earlier download, and the request with this node's
// credentials (its certificate is on the client; the deprecated shared
// secret goes in a header).
func (d *Driver) startPeerDownload(ctx context.Context, j *job, url, path string) (tmp string, req *http.Request, err error) {
	j.state.Store(StateDownloading)
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return "", nil, err
	}
	removeTemps(path)
	if tmp, err = qcow2.TempName(path); err != nil {
		return "", nil, err
	}
	if req, err = http.NewRequestWithContext(ctx, http.MethodGet, url, nil); err != nil {
		return "", nil, err
	}
	if d.peer == nil {
		downloadapi.Authorize(req, d.secret)
	}
	return tmp, req, nil
}
