package cli

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
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
		Short: "make a join token for agents (printed once as agent config keys, with the CA fingerprint: optional, recommended)",
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
			fmt.Fprintf(a.stdout, "joinToken: %s\n", tok.Token)
			fmt.Fprintf(a.stdout, "# optional but recommended: pins the cluster CA, so that not even a holder of the token can pose as the API server\n")
			fmt.Fprintf(a.stdout, "apiServerCAFingerprint: %s\n", tok.CAFingerprint)
			return nil
		},
	}
	cmd.Flags().DurationVar(&ttl, "ttl", time.Hour, "how long the token is valid")
	cmd.Flags().IntVar(&uses, "uses", 1, "how many nodes may join with it (0: any number until it expires)")
	cmd.Flags().StringVar(&desc, "description", "", "what the token is for (kept with it)")
	cmd.Flags().StringVar(&node, "node", "", "admit only the node of this name (default: any name)")
	cmd.AddCommand(a.joinTokenListCmd(), a.joinTokenRevokeCmd())
	return cmd
}

func (a *app) joinTokenListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "list join tokens: valid ones, and for a week those that expired, were used up or revoked",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			toks, err := c.ListJoinTokens(cmd.Context())
			if err != nil {
				return err
			}
			return printJoinTokens(a.stdout, toks)
		},
	}
}

func (a *app) joinTokenRevokeCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "revoke ID",
		Short: "revoke a join token: it admits no more nodes (nodes that joined keep their certificates)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			rec, err := c.RevokeJoinToken(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "join token %s revoked at %s", rec.ID, rec.Revoked.Format(time.RFC3339))
			if len(rec.UsedBy) > 0 {
				fmt.Fprintf(a.stdout, "; nodes that joined with it keep their certificates: %s", strings.Join(rec.UsedBy, ","))
			}
			fmt.Fprintln(a.stdout)
			return nil
		},
	}
}

// printJoinTokens prints join token records as a table.
func printJoinTokens(w io.Writer, toks []api.JoinTokenRecord) error {
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	writeRow(tw, []string{"ID", "STATE", "NODE", "USES", "USED-BY", "EXPIRES", "CREATED-BY", "DESCRIPTION"})
	for _, t := range toks {
		uses := strconv.Itoa(t.Uses) + "/"
		if t.MaxUses > 0 {
			uses += strconv.Itoa(t.MaxUses)
		} else {
			uses += "any"
		}
		writeRow(tw, []string{t.ID, t.State, t.Node, uses, strings.Join(t.UsedBy, ","),
			t.Expires.Format(time.RFC3339), t.CreatedBy, t.Description})
	}
	return tw.Flush()
}
