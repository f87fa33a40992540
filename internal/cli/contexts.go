package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"sigs.k8s.io/yaml"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/pki"
)

// The contexts file (~/.config/humstack/config, or $HUMSTACK_CONFIG) names
// the clusters humcli talks to, kubeconfig-style:
//
//	currentContext: lab
//	contexts:
//	- name: lab
//	  servers: [https://10.0.0.1:8080]
//	  caFile: /home/me/.config/humstack/lab-ca.crt
//	  token: ...
//	- name: uni
//	  servers: [https://humstack.example.edu:8080]
//	  token: <ID token>
//	  oidc: {issuer: https://idp.example.edu/realms/uni, clientID: humstack,
//	         scopes: [openid, offline_access], refreshToken: ...}
//
// It is used when none of the seed's --api-server-address,
// --api-server-port and --config is given: those keep their meaning, and
// take a context's CA and token only when they name that context's server
// (seedmatch.go).

// contextsEnv names another contexts file, as KUBECONFIG does.
const contextsEnv = "HUMSTACK_CONFIG"

type contextsFile struct {
	CurrentContext string       `json:"currentContext,omitempty"`
	Contexts       []clusterCtx `json:"contexts"`
}

// clusterCtx is one context: where the servers are, which CA their
// certificates chain to, and the bearer token to present (Token is read
// into the client's bearer-token option; only this context's servers see
// it).
type clusterCtx struct {
	Name    string   `json:"name"`
	Servers []string `json:"servers"`
	CAFile  string   `json:"caFile,omitempty"`
	Token   string   `json:"token,omitempty"`
	// OIDC is set by `humcli login --oidc-issuer`: Token is then the
	// issuer's ID token, renewed with the refresh token when it is about
	// to expire (oidcrefresh.go).
	OIDC *oidcCtx `json:"oidc,omitempty"`
}

// oidcCtx is where a context's ID token comes from and how it is renewed.
type oidcCtx struct {
	Issuer       string   `json:"issuer"`
	ClientID     string   `json:"clientID"`
	CAFile       string   `json:"caFile,omitempty"` // the issuer's CA (PEM); "": system roots
	Scopes       []string `json:"scopes,omitempty"`
	RefreshToken string   `json:"refreshToken,omitempty"`
}

func contextsPath() (string, error) {
	if p := os.Getenv(contextsEnv); p != "" {
		return p, nil
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("contexts file: %w (set $%s)", err, contextsEnv)
	}
	return filepath.Join(dir, "humstack", "config"), nil
}

// loadContexts reads the contexts file; a missing file is an empty one.
func loadContexts() (*contextsFile, string, error) {
	path, err := contextsPath()
	if err != nil {
		return nil, "", err
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return &contextsFile{}, path, nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("contexts: %w", err)
	}
	js, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return nil, "", fmt.Errorf("contexts file %s: malformed YAML: %v", path, err)
	}
	var f contextsFile
	if err := api.DecodeInto(js, &f); err != nil {
		return nil, "", fmt.Errorf("contexts file %s: %v", path, err)
	}
	return &f, path, nil
}

// save writes the file 0600: it holds tokens.
func (f *contextsFile) save(path string) error {
	data, err := yaml.Marshal(f)
	if err != nil {
		return err
	}
	return pki.WriteFile(path, data)
}

// find returns the context called name, or nil.
func (f *contextsFile) find(name string) *clusterCtx {
	i := slices.IndexFunc(f.Contexts, func(c clusterCtx) bool { return c.Name == name })
	if i < 0 {
		return nil
	}
	return &f.Contexts[i]
}

// upsert returns the context called name, adding it if absent.
func (f *contextsFile) upsert(name string) *clusterCtx {
	if c := f.find(name); c != nil {
		return c
	}
	f.Contexts = append(f.Contexts, clusterCtx{Name: name})
	return &f.Contexts[len(f.Contexts)-1]
}

// active is the context to use: --context, or the current one; nil when
// there is none.
func (f *contextsFile) active(name, path string) (*clusterCtx, error) {
	if name == "" {
		name = f.CurrentContext
	}
	if name == "" {
		return nil, nil
	}
	c := f.find(name)
	if c == nil {
		return nil, fmt.Errorf("context %q is not in %s (see humcli config get-contexts)", name, path)
	}
	if len(c.Servers) == 0 {
		return nil, fmt.Errorf("context %q in %s has no servers", name, path)
	}
	return c, nil
}
