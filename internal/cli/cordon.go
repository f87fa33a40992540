package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/controller"
	"github.com/humstack/humstack/internal/controller/record"
)

// cordonCmd and uncordonCmd set and clear a node's spec.unschedulable: a
// cordoned node gets no new placements and no migrations; what runs there
// stays (humcli drain moves it).
func (a *app) cordonCmd(on bool) *cobra.Command {
	use, short := "cordon NODE", "Mark a node unschedulable: nothing new is placed or migrated there"
	if !on {
		use, short = "uncordon NODE", "Mark a node schedulable again"
	}
	return &cobra.Command{
		Use: use, Short: short, Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			return a.cordon(cmd.Context(), c, args[0], on)
		},
	}
}

// cordon sets node's unschedulable to on and records Cordoned or
// Uncordoned when that changed it.
func (a *app) cordon(ctx context.Context, c *client.Client, node string, on bool) error {
	n, err := client.For[*api.Node](c).Get(ctx, client.Scope{}, node)
	if err != nil {
		return naming("node "+node, "", err)
	}
	changed := false
	n, err = controller.Update(ctx, c, n, func(n *api.Node) bool {
		changed = n.Spec.Unschedulable != on
		n.Spec.Unschedulable = on
		return changed
	})
	if err != nil {
		return naming("node "+node, "", err)
	}
	word := map[bool]string{true: "cordoned", false: "uncordoned"}[on]
	if !changed {
		fmt.Fprintf(a.stdout, "node %s already %s\n", node, word)
		return nil
	}
	reason := map[bool]string{true: "Cordoned", false: "Uncordoned"}[on]
	a.event(ctx, c, n, api.EventNormal, reason, "node %s by humcli", word)
	fmt.Fprintf(a.stdout, "node %s %s\n", node, word)
	return nil
}

// event records one event about obj through the events API, as the
// controllers' recorder does (deduplicated, counted). A failure to record
// it does not fail the command.
func (a *app) event(ctx context.Context, c *client.Client, obj api.Object, typ, reason, format string, args ...any) {
	s := record.New(c, record.Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	s.For("humcli").Event(obj, typ, reason, format, args...)
	s.Flush(ctx, true)
}
