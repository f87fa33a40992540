package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
)

// viewFlags are the flags of get and watch.
type viewFlags struct {
	output    string
	allScopes bool
}

func (v *viewFlags) register(cmd *cobra.Command, formats ...string) {
	cmd.Flags().StringVarP(&v.output, "output", "o", formatTable, "output format: "+joinOr(formats))
	cmd.Flags().BoolVarP(&v.allScopes, "all-namespaces", "A", false, "across all groups and namespaces instead of --g/--n")
}

func joinOr(s []string) string {
	out := s[0]
	for i, v := range s[1:] {
		if i == len(s)-2 {
			return out + " or " + v
		}
		out += ", " + v
	}
	return out
}

func (a *app) getCmd() *cobra.Command {
	var v viewFlags
	var follow bool
	var forObj string
	cmd := &cobra.Command{
		Use:   "get KIND [ID...]",
		Short: "List objects of a kind, or show some by id",
		Long: "List the objects of KIND in the --g/--n scope (or everywhere with -A), or show\n" +
			"the objects with the given ids. KIND is a kind's name (virtualmachine), plural\n" +
			"(virtualmachines), alias (vm) or apiType (systemv0/virtualmachine).\n\n" +
			"-o yaml prints YAML documents separated by ---; -o json prints one object, or a\n" +
			"JSON array for a list. Both can be fed back to apply -f.\n\n" +
			"-w (--watch) prints the table, then a row per change until interrupted, like\n" +
			"kubectl get -w; for a stream of JSON events use watch KIND -o json.\n\n" +
			"get events lists the events you may see, by last time seen; --for KIND/ID\n" +
			"shows those of one object (in the --g/--n scope as its kind has one).",
		Args: kindArgs(-1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(v.output, formatTable, formatYAML, formatJSON); err != nil {
				return err
			}
			k, err := lookupKind(args[0])
			if err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			if forObj != "" && k != api.EventKind {
				return errors.New("--for KIND/ID narrows a list of events: get events --for " + forObj)
			}
			if follow {
				switch {
				case v.output != formatTable:
					return fmt.Errorf("-w prints a table; for JSON events use: watch %s -o json", k.Name)
				case v.allScopes && len(args) > 1:
					return errors.New("-A lists a kind everywhere; it cannot be combined with ids")
				case forObj != "":
					return errors.New("-w follows every event; describe KIND ID lists one object's")
				}
				return a.getWatch(cmd.Context(), c, k, args[1:], v)
			}
			if len(args) == 1 && k == api.EventKind {
				return a.listEvents(cmd.Context(), c, forObj, v)
			}
			if len(args) == 1 {
				return a.list(cmd.Context(), c, k, v)
			}
			if v.allScopes {
				return errors.New("-A lists a kind everywhere; it cannot be combined with ids")
			}
			return a.show(cmd.Context(), c, k, args[1:], v)
		},
	}
	v.register(cmd, formatTable, formatYAML, formatJSON)
	cmd.Flags().BoolVarP(&follow, "watch", "w", false, "after the table, print a row per change until interrupted")
	cmd.Flags().StringVar(&forObj, "for", "", "with get events: only the events of this object (KIND/ID, e.g. vm/vm1)")
	return cmd
}

func (a *app) list(ctx context.Context, c *client.Client, k *api.Kind, v viewFlags) error {
	sc := a.scope(k, v.allScopes)
	objs, _, err := c.List(ctx, k, sc)
	if err != nil {
		return fmt.Errorf("list %s: %w", k.Plural, err)
	}
	if len(objs) == 0 && v.output == formatTable {
		// On stderr, so `get ... | wc -l` counts objects only.
		fmt.Fprintf(a.stderr, "No %s found%s.\n", k.Plural, scopeText(k, sc))
		return nil
	}
	wide := v.allScopes && k.Scope != api.ScopeCluster
	return printObjects(a.stdout, k, objs, v.output, wide, false)
}

func scopeText(k *api.Kind, sc client.Scope) string {
	switch {
	case k.Scope == api.ScopeNamespace && sc.Namespace != "":
		return " in namespace " + sc.Group + "/" + sc.Namespace
	case k.Scope >= api.ScopeGroup && sc.Group != "":
		return " in group " + sc.Group
	}
	return ""
}

// show prints the objects with the given ids; a missing one is reported and
// the others still printed.
func (a *app) show(ctx context.Context, c *client.Client, k *api.Kind, ids []string, v viewFlags) error {
	sc := a.scope(k, false)
	var objs []api.Object
	failed := false
	for _, id := range ids {
		o, err := c.Get(ctx, k, sc, id)
		if err != nil {
			failed = true
			a.objectError(objectName(k, &api.Meta{ID: id, Group: sc.Group, Namespace: sc.Namespace}), err)
			if unreachable(ctx, err) {
				break
			}
			continue
		}
		objs = append(objs, o)
	}
	if len(objs) > 0 {
		if err := printObjects(a.stdout, k, objs, v.output, false, len(ids) == 1); err != nil {
			return err
		}
	}
	if failed {
		return errReported
	}
	return nil
}
