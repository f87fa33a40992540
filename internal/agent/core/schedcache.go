package core

import (
	"sync"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/placement"
	"github.com/humstack/humstack/internal/scheduler"
)

// usage is the scheduler's view of what each node holds: the node's ledger
// (written by the API server) joined with the objects the caches show
// placed there and the placements this scheduler has just written and the
// caches do not show yet (assumed). The join is by ledger key, so nothing
// is counted twice, and it holds with or without the API server's ledger.
// A node's scheduler.Node is rebuilt only when the node object or what is
// placed on it changed (it is then dirty): a decision over 1,000 nodes
// rebuilds one or two, and lists nothing.
type usage struct {
	mu      sync.Mutex
	placed  map[string]map[string]api.Amounts // node -> key -> request
	assumed map[string]assumption             // key -> placement written, not yet seen
	images  map[string]map[string]int         // node -> "group/entity" -> holders
	objs    map[string]*api.Node              // the node informer's objects
	dirty   map[string]bool                   // nodes whose scheduler.Node is stale
	list    []*scheduler.Node                 // every node, as last built
	index   map[string]int                    // node -> its position in list
}

// assumption is a placement this scheduler wrote and its caches may not
// show yet.
type assumption struct {
	node    string
	amounts api.Amounts
	scope   string // "group/namespace" of a VM, for affinity
	labels  map[string]string
}

func newUsage() *usage {
	return &usage{placed: map[string]map[string]api.Amounts{}, assumed: map[string]assumption{},
		images: map[string]map[string]int{}, objs: map[string]*api.Node{}, dirty: map[string]bool{}, index: map[string]int{}}
}

// track is the handler of the VM and disk informers: it moves an object's
// request (and a disk's image) to the node it is placed on.
func (u *usage) track(old, new api.Object) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if old != nil {
		u.account(old, -1)
	}
	if new != nil {
		u.account(new, +1)
		k, _ := api.KindOf(new)
		key := placement.Key(k, new.GetMeta())
		// The cache has caught up with the placement, or shows it placed
		// elsewhere (by another scheduler) or gone: either way the
		// assumption is done.
		if a, ok := u.assumed[key]; ok && (placement.NodeOf(new) != "" || new.GetMeta().Deleting()) {
			delete(u.assumed, key)
			u.dirty[a.node] = true
		}
	} else if old != nil {
		k, _ := api.KindOf(old)
		if a, ok := u.assumed[placement.Key(k, old.GetMeta())]; ok {
			delete(u.assumed, placement.Key(k, old.GetMeta()))
			u.dirty[a.node] = true
		}
	}
}

func (u *usage) account(o api.Object, sign int) {
	node := placement.NodeOf(o)
	if node == "" {
		return
	}
	k, _ := api.KindOf(o)
	key := placement.Key(k, o.GetMeta())
	u.dirty[node] = true
	if sign > 0 {
		if u.placed[node] == nil {
			u.placed[node] = map[string]api.Amounts{}
		}
		u.placed[node][key] = placement.Request(o)
	} else {
		delete(u.placed[node], key)
	}
	if bs, ok := o.(*api.BlockStorage); ok && bs.Status.ImageEntity != "" {
		u.addImage(node, bs.Meta.Group+"/"+bs.Status.ImageEntity, sign)
	}
}

// trackEntity is the handler of the image entity informer: the node that
// holds an entity's file has the image.
func (u *usage) trackEntity(old, new api.Object) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for o, sign := range map[api.Object]int{old: -1, new: +1} {
		if e, ok := o.(*api.ImageEntity); ok && e != nil && e.Status.Node != "" {
			u.addImage(e.Status.Node, e.Meta.Group+"/"+e.Meta.ID, sign)
		}
	}
}

func (u *usage) addImage(node, key string, sign int) {
	if u.images[node] == nil {
		u.images[node] = map[string]int{}
	}
	if u.images[node][key] += sign; u.images[node][key] <= 0 {
		delete(u.images[node], key)
	}
	u.dirty[node] = true
}

// assume records placements just written (or about to be); the caller
// holds u.mu.
func (u *usage) assume(key string, a assumption) {
	u.assumed[key] = a
	u.dirty[a.node] = true
}

// forget drops an assumption whose write failed.
func (u *usage) forget(key string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if a, ok := u.assumed[key]; ok {
		delete(u.assumed, key)
		u.dirty[a.node] = true
	}
}

// forgetOn drops key's assumption if it is still on node: another
// decision may have assumed it elsewhere since.
func (u *usage) forgetOn(key, node string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if a, ok := u.assumed[key]; ok && a.node == node {
		delete(u.assumed, key)
		u.dirty[a.node] = true
	}
}

// trackNode is the handler of the node informer.
func (u *usage) trackNode(old, new api.Object) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if new != nil {
		u.objs[new.GetMeta().ID] = new.(*api.Node)
		u.dirty[new.GetMeta().ID] = true
	} else if old != nil {
		delete(u.objs, old.GetMeta().ID)
		u.dirty[old.GetMeta().ID] = true
	}
}

// nodes is the scheduler's view of every node, rebuilding the dirty ones;
// the caller holds u.mu and must not keep the slice past it.
func (u *usage) nodes() []*scheduler.Node {
	for name := range u.dirty {
		i, listed := u.index[name]
		n, exists := u.objs[name]
		switch {
		case exists && listed:
			u.list[i] = u.build(n)
		case exists:
			u.index[name] = len(u.list)
			u.list = append(u.list, u.build(n))
		case listed: // gone: the last entry takes its place
			last := len(u.list) - 1
			u.list[i] = u.list[last]
			u.index[u.list[i].Name] = i
			u.list = u.list[:last]
			delete(u.index, name)
		}
	}
	clear(u.dirty)
	return u.list // unsorted: Decide's answer does not depend on the order
}

// build makes the scheduler.Node of n.
func (u *usage) build(n *api.Node) *scheduler.Node {
	alloc := placement.Limits(n)
	if n.Status.Allocatable != nil {
		alloc = *n.Status.Allocatable
	}
	used := placement.Reserved(n)
	for key, amounts := range u.placed[n.Meta.ID] {
		if _, ok := n.Status.Reservations[key]; !ok {
			used = placement.Add(used, amounts)
		}
	}
	for key, a := range u.assumed {
		if _, ok := n.Status.Reservations[key]; ok || a.node != n.Meta.ID {
			continue
		}
		if _, ok := u.placed[n.Meta.ID][key]; !ok {
			used = placement.Add(used, a.amounts)
		}
	}
	images := map[string]bool{}
	for img := range u.images[n.Meta.ID] {
		images[img] = true
	}
	return schedNode(n, alloc, used, images)
}

// assumedPeers are the VMs of scope this scheduler placed and the cache
// does not show yet; the caller holds u.mu.
func (u *usage) assumedPeers(scope string) []scheduler.Peer {
	var out []scheduler.Peer
	for key, a := range u.assumed {
		if a.scope == scope {
			out = append(out, scheduler.Peer{Key: key, Node: a.node, Labels: a.labels})
		}
	}
	return out
}
