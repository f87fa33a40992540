package agent

import (
	"context"
	"log/slog"

	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/agent/nodecred"
)

// credential sets up HTTPS to the API servers when the config has a CA
// (file, fingerprint, or one stored by an earlier join) or a join token:
// the node credential, joined with the join token at first start, and the
// client options that use it. Plain HTTP gives nil and no options.
func credential(ctx context.Context, cfg Config, log *slog.Logger) (*nodecred.Credential, []client.Option, error) {
	if !cfg.HTTPS() {
		return nil, nil, nil
	}
	cred, err := nodecred.Setup(ctx, nodecred.Config{
		Dir: cfg.PKIDirPath, Node: cfg.NodeName, Servers: cfg.APIServerURLs(), Token: cfg.JoinToken,
		CAFile: cfg.APIServerCAFile, CAFingerprint: cfg.APIServerCAFingerprint, Log: log,
	})
	if err != nil {
		if ctx.Err() != nil {
			log.Info("agent stopped before the node joined")
			return nil, nil, nil
		}
		return nil, nil, err
	}
	tc, err := cred.TLSConfig()
	if err != nil {
		return nil, nil, err
	}
	return cred, []client.Option{client.WithTLS(tc)}, nil
}
