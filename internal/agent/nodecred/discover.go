package nodecred

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/pki"
)

// discover learns the cluster CA with the join token alone, when the
// config gives neither apiServerCAFile nor apiServerCAFingerprint: it asks
// an API server for the token's cluster info over a connection it cannot
// verify yet, sending the token's id and nothing else, and trusts the CA
// only if the answer's MAC proves that the server holds the token's
// record (pki.VerifyClusterInfo). The join then goes over a connection
// verified by that CA. Servers are asked in order; one that cannot be
// reached is skipped, and if none can be, the error is api.ErrUnavailable
// (the join retries). Any other failure is final: a server that cannot
// prove it knows the token is not one to send the token to.
//
// Weaker than the pin: whoever holds the token can make cluster info for
// a CA of their own, and so pose as the API server to this agent.
func (c *Credential) discover(ctx context.Context) error {
	id, _, err := pki.ParseJoinToken(c.cfg.Token)
	if err != nil {
		return err
	}
	// Nothing to verify the server with yet: the MAC below is the check,
	// and only the token's id crosses this connection.
	blind := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: true}
	var last error
	for _, server := range strings.Split(c.cfg.Servers, ",") {
		server = strings.TrimSpace(server)
		cl, err := client.New(server, client.WithTLS(blind))
		if err != nil {
			return err
		}
		info, err := cl.ClusterInfo(ctx, id)
		if errors.Is(err, api.ErrUnavailable) {
			last = err
			continue
		}
		if err != nil {
			return fmt.Errorf("cluster info of join token %s from the API server at %s: %w (an API server older than this agent has none: "+
				"add apiServerCAFingerprint, as printed by humcli node join-token)", id, server, err)
		}
		ca, err := pki.VerifyClusterInfo(c.cfg.Token, info)
		if errors.Is(err, pki.ErrNotProven) {
			return fmt.Errorf("the API server at %s could not prove it knows join token %s: not joining: %w", server, id, err)
		}
		if err != nil {
			return fmt.Errorf("cluster info from the API server at %s: %w", server, err)
		}
		c.roots, c.discovered = x509.NewCertPool(), pki.Fingerprint(ca)
		c.roots.AddCert(ca)
		c.cfg.Log.Info("cluster CA learned with the join token", "server", server, "fingerprint", c.discovered,
			"hint", "pin it with apiServerCAFingerprint to also guard against a holder of the token posing as the API server")
		return nil
	}
	return last
}
