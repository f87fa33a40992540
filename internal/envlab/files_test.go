package envlab_test

import (
	"io/fs"
	"maps"
	"path/filepath"
	"slices"
	"strings"
)

// Where the agents keep snapshots: <blockStorageDirPath>/.snapshots/...
// on the node that took them, <imageDirPath>/.cache/snapshots/... on the
// nodes that fetched them (docs/environments.md). In the lab these are
// under <lab dir>/<node>/blockstorages and .../images.
const (
	snapshotDir = "blockstorages/.snapshots/"
	cacheDir    = "images/.cache/snapshots/"
)

// nodeFiles lists every file and directory the agents keep on each node
// (disks, images, VMs, snapshots, caches), as "<node>/<path>" with a
// trailing "/" for directories.
func (e *envLab) nodeFiles() map[string]bool {
	e.tb.Helper()
	out := map[string]bool{}
	for _, n := range e.l.Nodes() {
		home := filepath.Join(e.l.Dir(), n.Name)
		for _, d := range []string{"blockstorages", "images", "vms"} {
			root := filepath.Join(home, d)
			filepath.WalkDir(root, func(p string, de fs.DirEntry, err error) error {
				if err != nil || p == root {
					return nil // a directory not made yet, or gone while walking
				}
				rel, _ := filepath.Rel(home, p)
				if de.IsDir() {
					rel += "/"
				}
				out[n.Name+"/"+filepath.ToSlash(rel)] = true
				return nil
			})
		}
	}
	return out
}

// under lists the entries of files whose path (after the node) starts
// with prefix.
func under(files map[string]bool, prefix string) []string {
	var out []string
	for f := range files {
		if _, rest, ok := strings.Cut(f, "/"); ok && strings.HasPrefix(rest, prefix) && rest != prefix {
			out = append(out, f)
		}
	}
	slices.Sort(out)
	return out
}

// leaked returns what is in after and was not in before and belongs to
// an environment: any file but the image cache's (the group's image, not
// the environment's: images/.cache/<group>/...), and the directories of
// snapshots, snapshot caches and VMs. Empty parent directories (a group's
// or namespace's directory under blockstorages or .snapshots) are
// returned separately, as notes.
func leaked(before, after map[string]bool) (leaks, notes []string) {
	for _, f := range slices.Sorted(maps.Keys(after)) {
		if before[f] {
			continue
		}
		_, rest, _ := strings.Cut(f, "/")
		isDir := strings.HasSuffix(rest, "/")
		depth := strings.Count(strings.TrimSuffix(rest, "/"), "/")
		switch {
		case strings.HasPrefix(rest, cacheDir), strings.HasPrefix(rest, snapshotDir):
			// .../<group>/<namespace>/<id>-<uid>/ is a snapshot's own directory.
			base := strings.Count(strings.TrimSuffix(snapshotDir, "/"), "/")
			if strings.HasPrefix(rest, cacheDir) {
				base = strings.Count(strings.TrimSuffix(cacheDir, "/"), "/")
			}
			if !isDir || depth >= base+3 {
				leaks = append(leaks, f)
			} else {
				notes = append(notes, f)
			}
		case strings.HasPrefix(rest, "images/.cache/"):
			// the base image fetched by a node: the group's, kept
		case strings.HasPrefix(rest, "vms/"), !isDir:
			leaks = append(leaks, f)
		default:
			notes = append(notes, f)
		}
	}
	return leaks, notes
}
