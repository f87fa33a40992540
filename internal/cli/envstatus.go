package cli

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
)

func (a *app) envStatusCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "status ENV",
		Short: "Show an environment's copies: state, VMs ready, resets",
		Long: "Print environment ENV's state and golden state, then one line per copy: its\n" +
			"namespace, state, VMs ready / total, the reset under way (queued with its\n" +
			"position, or running) and the last finished reset with the time it took.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			return a.envStatus(cmd.Context(), c, args[0])
		},
	}
}

func (a *app) envStatus(ctx context.Context, c *client.Client, envID string) error {
	env, err := a.environment(ctx, c, envID)
	if err != nil {
		return err
	}
	resets, _, err := client.For[*api.Reset](c).List(ctx, client.Scope{Group: env.Meta.Group})
	if err != nil {
		return naming("resets of group "+env.Meta.Group, "", err)
	}
	s := env.Status
	fmt.Fprintf(a.stdout, "environment %s/%s (template %s): %s, %d/%d VMs ready", env.Meta.Group, env.Meta.ID,
		env.Spec.TemplateID, orDash(s.State), s.VMsReady, s.VMsTotal)
	if s.Message != "" {
		fmt.Fprintf(a.stdout, ": %s", s.Message)
	}
	fmt.Fprintln(a.stdout)
	g := s.Golden
	switch {
	case g.State == "":
		fmt.Fprintf(a.stdout, "golden state: none (humcli env capture %s)\n", envID)
	default:
		fmt.Fprintf(a.stdout, "golden state: %s, copy %s, memory %s, captured %s %s\n", g.State, orDash(g.Copy),
			yesNo(g.Memory), orDash(g.CapturedAt), g.Message)
	}
	if s.NextResetAt != "" {
		fmt.Fprintf(a.stdout, "next scheduled reset: %s (every %s)\n", s.NextResetAt, env.Spec.ResetEvery)
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "COPY\tNAMESPACE\tSTATE\tVMS\tRESET\tLAST RESET\tTOOK\tMESSAGE")
	for _, cp := range s.Copies {
		took := ""
		if cp.LastResetTookSecond > 0 {
			took = fmt.Sprintf("%.1fs", cp.LastResetTookSecond)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%s\t%s\t%s\t%s\n", cp.Name, cp.Namespace, orDash(cp.State), cp.VMsReady, cp.VMsTotal,
			orDash(pendingReset(resets, cp.Namespace)), orDash(cp.LastResetAt), orDash(took), cp.Message)
	}
	return tw.Flush()
}

// pendingReset describes the unfinished resets of namespace ns: the
// running one, else the first queued with its position.
func pendingReset(resets []*api.Reset, ns string) string {
	var out []string
	for _, r := range resets {
		if r.Meta.Namespace != ns || r.Status.Finished() {
			continue
		}
		switch s := r.Status; {
		case s.Phase == api.ResetRunning:
			out = append(out, "Running")
		case s.Position > 0:
			out = append(out, fmt.Sprintf("Queued #%d", s.Position))
		default:
			out = append(out, "Queued")
		}
	}
	return strings.Join(out, ",")
}
