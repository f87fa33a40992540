package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/humstack/humstack/api"
)

func (a *app) nodeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "node",
		Short: "node credentials",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(a.joinTokenCmd())
	return cmd
}

func (a *app) joinTokenCmd() *cobra.Command {
	var ttl time.Duration
	var uses int
	var desc, node string
	cmd := &cobra.Command{
		Use:   "join-token [--ttl 1h] [--uses N]",
		Short: "make a join token for agents (printed once, with the CA fingerprint, as agent config keys)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			tok, err := c.CreateJoinToken(cmd.Context(), api.JoinTokenRequest{TTL: ttl.String(), MaxUses: uses, Node: node, Description: desc})
			if err != nil {
				return err
			}
			usesText := "any number of nodes"
			if tok.MaxUses > 0 {
				usesText = fmt.Sprintf("%d node(s)", tok.MaxUses)
			}
			if tok.Node != "" {
				usesText += " named " + tok.Node
			}
			fmt.Fprintf(a.stdout, "# join token %s: valid until %s for %s; put these keys into the agent's config.yaml\n",
				tok.ID, tok.Expires.Format(time.RFC3339), usesText)
			fmt.Fprintf(a.stdout, "joinToken: %s\napiServerCAFingerprint: %s\n", tok.Token, tok.CAFingerprint)
			return nil
		},
	}
	cmd.Flags().DurationVar(&ttl, "ttl", time.Hour, "how long the token is valid")
	cmd.Flags().IntVar(&uses, "uses", 1, "how many nodes may join with it (0: any number until it expires)")
	cmd.Flags().StringVar(&desc, "description", "", "what the token is for (kept with it)")
	cmd.Flags().StringVar(&node, "node", "", "admit only the node of this name (default: any name)")
	return cmd
}
