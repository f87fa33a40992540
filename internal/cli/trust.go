package cli

import (
	"context"
	"fmt"

	"github.com/humstack/humstack/client"
)

// seedFlagsGiven reports whether the seed's server flags or --config were
// given: they win over the contexts file.
func (a *app) seedFlagsGiven() bool {
	f := a.root.PersistentFlags()
	return f.Changed(flagAddress) || f.Changed(flagPort) || f.Changed(flagConfig)
}

// contextServers returns the active context's servers, CA file and token,
// or nothing when the seed's flags are given or no context is active.
func (a *app) contextServers() (servers []string, caFile, token string, err error) {
	if a.seedFlagsGiven() {
		return nil, "", "", nil
	}
	f, path, err := loadContexts()
	if err != nil {
		return nil, "", "", err
	}
	c, err := f.active(a.global.contextName, path)
	if err != nil || c == nil {
		return nil, "", "", err
	}
	token = c.Token
	if c.OIDC != nil && !a.root.PersistentFlags().Changed(flagToken) {
		// A context from `login --oidc-issuer`: its ID token, renewed when
		// needed (--token replaces it, so it is then left alone).
		ctx := a.root.Context()
		if ctx == nil {
			ctx = context.Background()
		}
		if token, err = a.oidcToken(ctx, path, c); err != nil {
			return nil, "", "", err
		}
	}
	return append([]string(nil), c.Servers...), c.CAFile, token, nil
}

// trustOptions are the client options of --ca-file, which wins over the
// context's CA.
func (a *app) trustOptions(ctxCA string) ([]client.Option, error) {
	var opts []client.Option
	caFile := a.global.caFile
	if caFile == "" {
		caFile = ctxCA
	}
	if caFile != "" {
		tc, err := client.TrustCAFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("--ca-file: %w", err)
		}
		opts = append(opts, client.WithTLS(tc))
	}
	return opts, nil
}
