package cli

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
)

func (a *app) configCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "manage the contexts of ~/.config/humstack/config (servers, CA, token)",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(a.getContextsCmd(), a.useContextCmd(), a.setContextCmd())
	return cmd
}

func (a *app) getContextsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "get-contexts",
		Short: "list the contexts; * marks the current one",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, _, err := loadContexts()
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "CURRENT\tNAME\tSERVERS\tCA")
			for _, c := range f.Contexts {
				cur := ""
				if c.Name == f.CurrentContext {
					cur = "*"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", cur, c.Name, strings.Join(c.Servers, ","), c.CAFile)
			}
			return tw.Flush()
		},
	}
}

func (a *app) useContextCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "use-context NAME",
		Short: "make NAME the current context",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, path, err := loadContexts()
			if err != nil {
				return err
			}
			if f.find(args[0]) == nil {
				return fmt.Errorf("context %q is not in %s (see humcli config get-contexts)", args[0], path)
			}
			f.CurrentContext = args[0]
			if err := f.save(path); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "Switched to context %q.\n", args[0])
			return nil
		},
	}
}

// contextFlags are set-context's and login's: what a context holds. The CA
// is the global --ca-file.
type contextFlags struct {
	servers   []string
	token     string
	tokenFile string
}

func (cf *contextFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringSliceVar(&cf.servers, "server", nil, "API server URL (https://host:port); repeatable or comma-separated")
	cmd.Flags().StringVar(&cf.token, "token", "", "bearer token the context presents")
	cmd.Flags().StringVar(&cf.tokenFile, "token-file", "", "read the bearer token from this file (e.g. the apiserver's admin.token), so it is not on a command line")
}

func (a *app) setContextCmd() *cobra.Command {
	var cf contextFlags
	var use bool
	cmd := &cobra.Command{
		Use:   "set-context NAME [--server URL] [--ca-file F] [--token T]",
		Short: "create or change a context; only the fields given change",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !api.IsID(args[0]) {
				return fmt.Errorf("context name %q: want lowercase letters, digits and '-'", args[0])
			}
			f, path, err := loadContexts()
			if err != nil {
				return err
			}
			c := f.upsert(args[0])
			if err := a.applyContextFlags(cmd, c, cf); err != nil {
				return err
			}
			if use || f.CurrentContext == "" {
				f.CurrentContext = c.Name
			}
			if err := f.save(path); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "Context %q set in %s.\n", c.Name, path)
			return nil
		},
	}
	cf.register(cmd)
	cmd.Flags().BoolVar(&use, "use", false, "also make it the current context")
	return cmd
}

// applyContextFlags copies the given flags into c.
func (a *app) applyContextFlags(cmd *cobra.Command, c *clusterCtx, cf contextFlags) error {
	if cmd.Flags().Changed("server") {
		for _, s := range cf.servers {
			if u, err := url.Parse(s); err != nil || u.Scheme == "" || u.Host == "" {
				return fmt.Errorf("--server %q: want a URL such as https://10.0.0.1:8080", s)
			}
		}
		c.Servers = cf.servers
	}
	if a.root.PersistentFlags().Changed(flagCAFile) {
		abs, err := filepath.Abs(a.global.caFile)
		if err != nil {
			return err
		}
		c.CAFile = abs
	}
	if cmd.Flags().Changed("token") && cmd.Flags().Changed("token-file") {
		return fmt.Errorf("--token and --token-file: give one")
	}
	if cmd.Flags().Changed("token") {
		// A token given by hand replaces an OIDC login's, which must then
		// not be renewed over it.
		c.Token, c.OIDC = cf.token, nil
	}
	if cmd.Flags().Changed("token-file") {
		b, err := os.ReadFile(cf.tokenFile)
		if err != nil {
			return fmt.Errorf("--token-file: %w", err)
		}
		if c.Token = strings.TrimSpace(string(b)); c.Token == "" {
			return fmt.Errorf("--token-file %s: empty", cf.tokenFile)
		}
		c.OIDC = nil
	}
	return nil
}

func (a *app) loginCmd() *cobra.Command {
	var cf contextFlags
	var of oidcFlags
	var name string
	cmd := &cobra.Command{
		Use:   "login --server URL --ca-file F [--token T | --oidc-issuer URL --oidc-client-id ID] [--name NAME]",
		Short: "check that a server answers and its certificate chains to the CA, then write and use a context for it",
		Long: "Check that a server answers and its certificate chains to the CA, then write and\n" +
			"use a context for it. With --oidc-issuer, first log in at that OpenID Connect\n" +
			"issuer with the device flow (open the URL shown, enter the code): the context\n" +
			"keeps the ID token and the refresh token, and later commands renew the ID token\n" +
			"when it expires.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(cf.servers) == 0 {
				return fmt.Errorf("login needs --server URL")
			}
			if err := of.stray(cmd); err != nil {
				return err
			}
			if name == "" {
				name = contextName(cf.servers[0])
			}
			c := clusterCtx{Name: name}
			if err := a.applyContextFlags(cmd, &c, cf); err != nil {
				return err
			}
			if cmd.Flags().Changed("oidc-issuer") {
				oc, err := of.context(cmd)
				if err != nil {
					return err
				}
				if c.Token, err = a.deviceLogin(cmd.Context(), oc); err != nil {
					return err
				}
				c.OIDC = oc
			}
			if err := checkLogin(cmd.Context(), c); err != nil {
				return err
			}
			f, path, err := loadContexts()
			if err != nil {
				return err
			}
			*f.upsert(name) = c
			f.CurrentContext = name
			if err := f.save(path); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "Logged in to %s; context %q written to %s and in use.\n", strings.Join(c.Servers, ","), name, path)
			return nil
		},
	}
	cf.register(cmd)
	of.register(cmd)
	cmd.Flags().StringVar(&name, "name", "", "context name (default: derived from the server's host)")
	return cmd
}

// checkLogin makes one authenticated request with c.
func checkLogin(ctx context.Context, c clusterCtx) error {
	var opts []client.Option
	if c.CAFile != "" {
		tc, err := client.TrustCAFile(c.CAFile)
		if err != nil {
			return fmt.Errorf("--ca-file: %w", err)
		}
		opts = append(opts, client.WithTLS(tc))
	}
	if c.Token != "" {
		opts = append(opts, client.WithToken(c.Token))
	}
	cl, err := client.NewMulti(c.Servers, opts...)
	if err != nil {
		return err
	}
	if _, _, err := cl.List(ctx, api.GroupKind, client.Scope{}); err != nil {
		return fmt.Errorf("login: %w", err)
	}
	return nil
}

// contextName derives a context name from a server URL's host.
func contextName(server string) string {
	u, err := url.Parse(server)
	if err != nil || u.Hostname() == "" {
		return "default"
	}
	var b strings.Builder
	for _, r := range strings.ToLower(u.Hostname()) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteRune('-')
		}
	}
	if n := strings.Trim(b.String(), "-"); api.IsID(n) {
		return n
	}
	return "default"
}
