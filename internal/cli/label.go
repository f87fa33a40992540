package cli

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"

	"github.com/spf13/cobra"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
)

// labelCmd sets and removes labels of one object, of any kind: node labels
// are what the scheduler's node selectors match, VM labels what its
// affinity rules match (docs/placement.md).
func (a *app) labelCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "label KIND ID KEY=VALUE... | KEY-...",
		Short: "Set (KEY=VALUE) or remove (KEY-) labels of an object",
		Long: "Set or remove labels of one object, e.g.\n" +
			"  humcli label node node1 rack=a gpu=yes\n" +
			"  humcli label vm web1 -g team1 -n p1 app=web\n" +
			"  humcli label node node1 gpu-",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 3 {
				return fmt.Errorf("label needs a KIND, an ID and at least one KEY=VALUE or KEY-, e.g. label node node1 rack=a")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			k, err := lookupKind(args[0])
			if err != nil {
				return err
			}
			set, remove, err := parseLabelArgs(args[2:])
			if err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			o, err := relabel(cmd.Context(), c, k, a.scope(k, false), args[1], set, remove)
			if err != nil {
				return fmt.Errorf("%s: %w", objectName(k, &api.Meta{ID: args[1], Group: a.global.group, Namespace: a.global.namespace}), err)
			}
			fmt.Fprintf(a.stdout, "%s labeled\n", objectName(k, o.GetMeta()))
			return nil
		},
	}
}

// parseLabelArgs reads KEY=VALUE and KEY- arguments.
func parseLabelArgs(args []string) (set map[string]string, remove []string, err error) {
	set = map[string]string{}
	for _, arg := range args {
		if key, ok := strings.CutSuffix(arg, "-"); ok && !strings.Contains(arg, "=") {
			if key == "" {
				return nil, nil, fmt.Errorf("%q: a label to remove needs a key before the -", arg)
			}
			remove = append(remove, key)
			continue
		}
		key, value, ok := strings.Cut(arg, "=")
		if !ok || key == "" {
			return nil, nil, fmt.Errorf("%q: want KEY=VALUE to set a label or KEY- to remove one", arg)
		}
		set[key] = value
	}
	return set, remove, nil
}

// relabel applies the change with a compare-and-swap update, reading the
// object again when someone else wrote it in between (agents write nodes
// all the time).
func relabel(ctx context.Context, c *client.Client, k *api.Kind, sc client.Scope, id string, set map[string]string, remove []string) (api.Object, error) {
	for attempt := 0; ; attempt++ {
		o, err := c.Get(ctx, k, sc, id)
		if err != nil {
			return nil, err
		}
		m := o.GetMeta()
		if m.Labels == nil {
			m.Labels = map[string]string{}
		}
		maps.Copy(m.Labels, set)
		for _, key := range remove {
			delete(m.Labels, key)
		}
		out, err := c.Update(ctx, o)
		if errors.Is(err, api.ErrConflict) && attempt < 10 {
			continue
		}
		return out, err
	}
}
