package agent

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/agent/nodecred"
	"github.com/humstack/humstack/internal/pki"
)

// validateTLS checks the node credential keys: a join token is well formed,
// a CA fingerprint too. A join token needs no CA key: without one, the
// agent learns the CA from the token's cluster info, which only a server
// holding the token can sign (nodecred/discover.go), so the token is still
// sent only to the real API server. The CA keys are stronger (a holder of
// the token cannot pose as the server), and win when given.
func (c *Config) validateTLS(fe *api.FieldErrors) {
	if c.JoinToken != "" && c.JoinTokenFile != "" {
		fe.Add("joinToken", "give joinToken or joinTokenFile, not both")
	}
	if c.JoinToken != "" {
		if _, _, err := pki.ParseJoinToken(c.JoinToken); err != nil {
			fe.Add("joinToken", "malformed: want <id>.<secret> as printed by humcli node join-token")
		}
	}
	if c.APIServerCAFingerprint != "" {
		if _, err := client.PinCA(c.APIServerCAFingerprint); err != nil {
			fe.Add("apiServerCAFingerprint", "%q: want sha256:<64 hex digits> as printed by the apiserver", c.APIServerCAFingerprint)
		}
	}
	checkPath(fe, "pkiDirPath", c.PKIDirPath)
}

// loadJoinToken reads joinTokenFile into JoinToken.
func (c *Config) loadJoinToken() error {
	if c.JoinTokenFile == "" {
		return nil
	}
	b, err := os.ReadFile(c.JoinTokenFile)
	if err != nil {
		return api.Invalid("joinTokenFile", "%v", err)
	}
	c.JoinToken = strings.TrimSpace(string(b))
	if _, _, err := pki.ParseJoinToken(c.JoinToken); err != nil {
		return api.Invalid("joinTokenFile", "%s does not hold a join token (<id>.<secret>)", c.JoinTokenFile)
	}
	return nil
}

// HTTPS reports whether the agent talks HTTPS to the API servers: it has a
// CA to verify them with, configured or stored by an earlier join, or a
// join token to learn it with.
func (c *Config) HTTPS() bool {
	if c.APIServerCAFile != "" || c.APIServerCAFingerprint != "" || c.JoinToken != "" || c.JoinTokenFile != "" {
		return true
	}
	_, err := os.Stat(filepath.Join(c.PKIDirPath, nodecred.CAFile))
	return err == nil
}

// APIServerURLs is APIServer with the scheme the agent speaks.
func (c *Config) APIServerURLs() string {
	if !c.HTTPS() {
		return c.APIServer()
	}
	parts := strings.Split(c.APIServer(), ",")
	for i, p := range parts {
		parts[i] = "https://" + p
	}
	return strings.Join(parts, ",")
}
