package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
)

// deleteFlags modify delete.
type deleteFlags struct {
	files          fileFlags
	force          bool
	ignoreNotFound bool
}

const deleteLong = `Delete the objects files declare (delete -f FILE, or delete FILE... as the
original humcli took them), or objects of one kind by id in the --g/--n scope
(delete KIND ID [ID...]). A first argument that names a kind is a kind: give a
file named like one as -f vm or ./vm. Objects from files are deleted in reverse
dependency order: virtual machines before their disks and networks, namespaces
before their group.

An object that an agent still has to clean up (its finalizers) is marked for
deletion and disappears once the agent has torn down what it made; the output
then says "marked for deletion" instead of "deleted".

--force removes an object at once even if finalizers remain. Use it only for
objects whose node is gone for good: what the agent made on that node (disks,
bridges, processes) stays behind.`

func (a *app) deleteCmd() *cobra.Command {
	var f deleteFlags
	cmd := &cobra.Command{
		Use:   "delete (-f FILE | FILE... | KIND ID [ID...])",
		Short: "Delete objects declared in files, or by kind and id",
		Long:  deleteLong,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			ms, err := a.deleteTargets(f.files, args)
			if err != nil {
				return err
			}
			sortByRank(ms, true)
			ctx := cmd.Context()
			return a.each(ctx, ms, func(m manifest) (string, error) { return remove(ctx, c, m, f) })
		},
	}
	f.files.register(cmd, "delete")
	cmd.Flags().BoolVar(&f.force, "force", false,
		"remove objects even if finalizers remain (for objects whose node is gone for good; what its agent made stays behind)")
	cmd.Flags().BoolVar(&f.ignoreNotFound, "ignore-not-found", false, "treat a missing object as deleted")
	return cmd
}

// deleteTargets turns -f, FILE... or KIND ID... into the objects to
// delete. Arguments are KIND ID... when the first names a kind (a file
// named like a kind is given with -f or as ./vm), else files, as the
// original humcli took them.
func (a *app) deleteTargets(f fileFlags, args []string) ([]manifest, error) {
	byKind := len(args) > 0 && !isFileArg(args[0])
	switch {
	case byKind && len(f.files) > 0:
		return nil, errors.New("give either -f FILE or KIND ID, not both")
	case !byKind && len(f.files)+len(args) > 0:
		f.files = append(f.files, args...)
		return a.loadManifests(f, false)
	case len(args) < 2:
		return nil, errors.New("nothing to delete: want -f FILE, FILE... or KIND ID [ID...]")
	}
	k, err := lookupKind(args[0])
	if err != nil {
		return nil, err
	}
	sc := a.scope(k, false)
	var ms []manifest
	for _, id := range args[1:] {
		obj := k.New()
		m := obj.GetMeta()
		m.ID, m.Group, m.Namespace = id, sc.Group, sc.Namespace
		if err := checkIdentity(k, m); err != nil {
			return nil, fmt.Errorf("%s: %v", objectName(k, m), err)
		}
		ms = append(ms, manifest{obj: obj, kind: k, origin: "command line"})
	}
	return ms, nil
}

// isFileArg reports whether a first argument of delete is a file: not a
// kind, and either an existing path or shaped like one ('.' or '/', which
// kinds and ids never hold, or "-" for stdin). Anything else is taken as a
// kind, so a misspelt kind is reported as one.
func isFileArg(arg string) bool {
	if _, err := api.LookupKind(arg); err == nil {
		return false
	}
	if _, err := os.Stat(arg); err == nil {
		return true
	}
	return arg == "-" || strings.ContainsAny(arg, "./")
}

func remove(ctx context.Context, c *client.Client, m manifest, f deleteFlags) (string, error) {
	out, err := c.Delete(ctx, m.kind, client.ScopeOf(m.obj), m.obj.GetMeta().ID, client.DeleteOptions{Force: f.force})
	if errors.Is(err, api.ErrNotFound) && f.ignoreNotFound {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if out.GetMeta().DeleteState == api.DeleteStateDelete {
		return "marked for deletion", nil
	}
	return "deleted", nil
}
