package nodecred

import (
	"context"
	"time"

	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/pki"
)

// renewCheck is how often the certificate's remaining life is checked.
const renewCheck = 10 * time.Minute

// Run renews the certificate once less than a third of its life is left,
// presenting the certificate itself, until ctx ends. Failures are logged
// and retried at the next check: the old certificate works until it
// expires.
func (c *Credential) Run(ctx context.Context) error {
	t := time.NewTicker(renewCheck)
	defer t.Stop()
	for {
		if err := c.RenewIfDue(ctx, time.Now()); err != nil {
			c.cfg.Log.Error("node certificate renewal failed", "node", c.cfg.Node, "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// RenewIfDue renews the certificate if it needs it at now.
func (c *Credential) RenewIfDue(ctx context.Context, now time.Time) error {
	cur := c.Certificate()
	if cur == nil || !pki.NeedsRenewal(cur.Leaf, now) {
		return nil
	}
	tc, err := c.TLSConfig()
	if err != nil {
		return err
	}
	cl, err := client.New(c.cfg.Servers, client.WithTLS(tc))
	if err != nil {
		return err
	}
	if err := c.request(ctx, cl, ""); err != nil {
		return err
	}
	c.cfg.Log.Info("node certificate renewed", "node", c.cfg.Node, "notAfter", c.Certificate().Leaf.NotAfter)
	return nil
}
