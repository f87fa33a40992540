package lab

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/pki"
)

// A secure lab (the default; not Config.Insecure): the API server makes the cluster CA and
// the bootstrap admin token in its data dir at first start; the lab reads
// both from there, as an operator on that machine would.

// CAFile is the cluster CA certificate of a Secure lab (empty otherwise).
func (l *Lab) CAFile() string {
	if !l.st.Secure {
		return ""
	}
	return filepath.Join(l.st.Dir, apiserverName, "db", "pki", "ca.crt")
}

// AdminTokenFile is the bootstrap admin token of a Secure lab (empty
// otherwise).
func (l *Lab) AdminTokenFile() string {
	if !l.st.Secure {
		return ""
	}
	return filepath.Join(l.st.Dir, apiserverName, "db", "admin.token")
}

// Secure reports whether the lab runs with TLS and RBAC.
func (l *Lab) Secure() bool { return l.st.Secure }

// APIURL is the base URL of the lab's API server.
func (l *Lab) APIURL() string {
	if l.st.Secure {
		return "https://" + l.st.APIAddress
	}
	return "http://" + l.st.APIAddress
}

// HTTPClient returns an HTTP client that dials inside node-a and, in a
// Secure lab, trusts the cluster CA; it sends no credential.
func (l *Lab) HTTPClient() *http.Client { return &http.Client{Transport: l.tr} }

// useSecureClient makes the lab's transport trust the cluster CA and its
// client present the admin token. It fails with an os.ErrNotExist error
// until the API server has made them.
func (l *Lab) useSecureClient() error {
	tc, err := client.TrustCAFile(l.CAFile())
	if err != nil {
		return err
	}
	tok, err := os.ReadFile(l.AdminTokenFile())
	if err != nil {
		return fmt.Errorf("lab admin token: %w", err)
	}
	// Before any HTTPS request: the transport reads it when it dials.
	l.tr.TLSClientConfig = tc
	c, err := client.New(l.APIURL(), client.WithHTTPClient(&http.Client{Transport: l.tr}),
		client.WithToken(strings.TrimSpace(string(tok))))
	if err != nil {
		return fmt.Errorf("lab client: %w", err)
	}
	l.client = c
	return nil
}

// getHealthz asks the API server's /healthz; in a Secure lab over HTTPS,
// once the CA exists (the server makes it before it listens).
func (l *Lab) getHealthz(hc *http.Client) (*http.Response, error) {
	if l.st.Secure && l.tr.TLSClientConfig == nil {
		if err := l.useSecureClient(); err != nil {
			return nil, err
		}
	}
	resp, err := hc.Get(l.APIURL() + "/healthz")
	if errors.Is(err, client.ErrCertificate) || isCertError(err) {
		// The CA file is read again at the next try: one read while a lab
		// was re-made over a crashed one's leftovers (CleanStale) was
		// seen to hold the crashed server's CA.
		l.tr.TLSClientConfig = nil
	}
	return resp, err
}

func fpOf(p string) string {
	s, err := caFingerprint(p)
	if err != nil {
		return err.Error()
	}
	return s
}

func isCertError(err error) bool {
	var ua x509.UnknownAuthorityError
	return errors.As(err, &ua)
}

// secureSetup runs once the API server first answers: the Core nodes are
// bound to core-agent, and each node gets a join token for its name
// alone, used once, which its agent's config carries with the CA's
// fingerprint pinned.
func (l *Lab) secureSetup(ctx context.Context) error {
	fp, err := caFingerprint(l.CAFile())
	if err != nil {
		return err
	}
	l.joinTokens = map[string]string{}
	l.caFingerprint = fp
	for _, n := range l.st.Nodes {
		if n.Mode == ModeCore || n.Mode == ModeAll {
			if err := l.bindCoreAgent(ctx, n.Name); err != nil {
				return err
			}
		}
		out, err := l.Humcli(ctx, "node", "join-token", "--ttl", "1h", "--node", n.Name, "--description", "lab "+l.st.ID)
		if err != nil {
			return fmt.Errorf("join token for %s: %w", n.Name, err)
		}
		tok, pin := yamlValue(out, "joinToken"), yamlValue(out, "apiServerCAFingerprint")
		if tok == "" || pin != fp {
			return fmt.Errorf("join token for %s: want a token and the CA fingerprint %s, got:\n%s", n.Name, fp, out)
		}
		l.joinTokens[n.Name] = tok
	}
	return nil
}

// bindCoreAgent grants the built-in role core-agent to a node, with
// humcli as an operator would.
func (l *Lab) bindCoreAgent(ctx context.Context, node string) error {
	doc := fmt.Sprintf("meta: {apiType: corev0/clusterrolebinding, id: core-agent-%s}\n"+
		"spec: {role: core-agent, subjects: [{kind: node, name: %s}]}\n", node, node)
	p := filepath.Join(l.st.Dir, apiserverName, "core-agent-"+node+".yaml")
	if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
		return fmt.Errorf("core-agent binding: %w", err)
	}
	if out, err := l.Humcli(ctx, "apply", "-f", p); err != nil {
		return fmt.Errorf("core-agent binding of %s: %w\n%s", node, err, out)
	}
	return nil
}

// joinKeys are the config keys that join node's agent: its token, the
// CA's fingerprint, where to keep its credential. A restarted agent loads
// the stored credential and needs the (used) token no more.
//
// The last node of a lab with more than one gets the token alone, as the
// seed's config plus one line: its agent learns the CA from the token's
// cluster info (MAC-checked) before it sends the token; the others pin
// the CA's fingerprint as well. Both ways are then in every secure lab.
func (l *Lab) joinKeys(node, home string) string {
	pin := fmt.Sprintf("apiServerCAFingerprint: %s\n", l.caFingerprint)
	if last := l.st.Nodes[len(l.st.Nodes)-1].Name; len(l.st.Nodes) > 1 && node == last {
		pin = ""
	}
	return fmt.Sprintf("joinToken: %s\n%spkiDirPath: %q\n", l.joinTokens[node], pin, filepath.Join(home, "pki"))
}

// caFingerprint is "sha256:<hex>" of the DER of the PEM certificate at
// path, as the API server prints it.
func caFingerprint(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("lab CA: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return "", fmt.Errorf("lab CA %s: no PEM certificate", path)
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return "", fmt.Errorf("lab CA %s: %w", path, err)
	}
	return pki.Fingerprint(cert), nil
}

// humcliTrust are the humcli flags of a Secure lab: the CA, the admin
// token (read from its file each time, so a rotated one is used).
func (l *Lab) humcliTrust() ([]string, error) {
	if !l.st.Secure {
		return nil, nil
	}
	tok, err := os.ReadFile(l.AdminTokenFile())
	if err != nil {
		return nil, fmt.Errorf("lab admin token: %w", err)
	}
	return []string{"--ca-file", l.CAFile(), "--token", strings.TrimSpace(string(tok))}, nil
}

// yamlValue finds "key: value" among out's lines.
func yamlValue(out, key string) string {
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, key+": "); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
