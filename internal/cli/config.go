package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"sigs.k8s.io/yaml"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
)

// globalFlags are the seed's persistent flags.
type globalFlags struct {
	address    string
	port       int32
	configPath string
	token      string
	group      string
	namespace  string
	// servers is the config file's apiServers list, used when no
	// --api-server-* flag is given.
	servers []string
	// caFile (--ca-file) is the CA bundle the servers' certificates must
	// chain to; contextName (--context) picks a context of the contexts
	// file.
	caFile      string
	contextName string
}

// Flag names, shared by registration and the config-file override check.
const (
	flagAddress = "api-server-address"
	flagPort    = "api-server-port"
	flagConfig  = "config"
	flagToken   = "token"
	// envToken is read when neither --token nor the config file's token
	// key gives one.
	envToken      = "HUMSTACK_TOKEN"
	flagGroup     = "g"
	flagNamespace = "n"
	flagCAFile    = "ca-file"
	flagContext   = "context"
)

func (g *globalFlags) register(root *cobra.Command) {
	f := root.PersistentFlags()
	f.StringVar(&g.address, flagAddress, "localhost", "apiserver address")
	f.Int32Var(&g.port, flagPort, 8080, "apiserver Port")
	f.StringVar(&g.configPath, flagConfig, "", "config file")
	f.StringVar(&g.token, flagToken, "", "bearer token for an apiserver with --authorization rbac (else the config file's token, else $"+envToken+")")
	// The seed's spellings are --g and --n; the original humcli also took
	// -g/--group and -n/--namespace, and scripts use both.
	f.StringVarP(&g.group, flagGroup, "g", "default", "group id (also --group)")
	f.StringVarP(&g.namespace, flagNamespace, "n", "default", "namespace id (also --namespace)")
	f.StringVar(&g.caFile, flagCAFile, "", "CA bundle (PEM) the API server's certificate must chain to; addresses without a scheme then use https")
	f.StringVar(&g.contextName, flagContext, "", "context of ~/.config/humstack/config to use instead of the current one")
	root.SetGlobalNormalizationFunc(longScopeNames)
}

// longScopeNames makes --group and --namespace the same flags as --g and
// --n, so a scope cannot be given twice under two names with two values.
func longScopeNames(_ *pflag.FlagSet, name string) pflag.NormalizedName {
	switch name {
	case "group":
		return flagGroup
	case "namespace":
		return flagNamespace
	}
	return pflag.NormalizedName(name)
}

// fileConfig is the --config file. Pointers tell "absent" from "zero".
type fileConfig struct {
	// APIServers lists several servers of one cluster (host:port or URL);
	// humcli uses the first that answers.
	APIServers       []string `json:"apiServers"`
	APIServerAddress *string  `json:"apiServerAddress"`
	APIServerPort    *int32   `json:"apiServerPort"`
	Group            *string  `json:"group"`
	Namespace        *string  `json:"namespace"`
	Token            *string  `json:"token"`
}

var configKeys = []string{"apiServerAddress", "apiServerPort", "apiServers", "group", "namespace", "token"}

// loadConfig reads a config file strictly: a misspelt key would otherwise
// silently send requests to the wrong server or scope.
func loadConfig(path string) (*fileConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	js, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return nil, fmt.Errorf("config %s: malformed YAML: %v", path, err)
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(js, &keys); err != nil {
		return nil, fmt.Errorf("config %s: want a mapping of %s", path, strings.Join(configKeys, ", "))
	}
	if unknown := unknownKeys(keys); len(unknown) > 0 {
		return nil, fmt.Errorf("config %s: unknown key %s (valid keys: %s)",
			path, strings.Join(unknown, ", "), strings.Join(configKeys, ", "))
	}
	var cfg fileConfig
	if err := api.DecodeInto(js, &cfg); err != nil {
		return nil, fmt.Errorf("config %s: %v", path, err)
	}
	return &cfg, nil
}

func unknownKeys(keys map[string]json.RawMessage) []string {
	var out []string
	for k := range keys {
		if !contains(configKeys, k) {
			out = append(out, strconv.Quote(k))
		}
	}
	sort.Strings(out)
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// resolve merges the config file under the flags: a flag given on the
// command line wins, a config value beats a flag's default.
func (a *app) resolve() error {
	g := &a.global
	if g.token == "" {
		g.token = os.Getenv(envToken)
	}
	if g.configPath == "" {
		return a.checkScope()
	}
	cfg, err := loadConfig(g.configPath)
	if err != nil {
		return err
	}
	set := func(flag string, dst *string, v *string) {
		if v != nil && !a.root.PersistentFlags().Changed(flag) {
			*dst = *v
		}
	}
	set(flagAddress, &g.address, cfg.APIServerAddress)
	set(flagGroup, &g.group, cfg.Group)
	set(flagNamespace, &g.namespace, cfg.Namespace)
	set(flagToken, &g.token, cfg.Token)
	if cfg.APIServerPort != nil && !a.root.PersistentFlags().Changed(flagPort) {
		g.port = *cfg.APIServerPort
	}
	if len(cfg.APIServers) > 0 && !a.root.PersistentFlags().Changed(flagAddress) &&
		!a.root.PersistentFlags().Changed(flagPort) {
		g.servers = cfg.APIServers
	}
	return a.checkScope()
}

// checkScope rejects a bad --g/--n before it becomes part of a URL.
func (a *app) checkScope() error {
	if !api.IsID(a.global.group) {
		return fmt.Errorf("--g %q: want a group id (lowercase letters, digits, '-')", a.global.group)
	}
	if !api.IsID(a.global.namespace) {
		return fmt.Errorf("--n %q: want a namespace id (lowercase letters, digits, '-')", a.global.namespace)
	}
	if a.global.port <= 0 || a.global.port > 65535 {
		return fmt.Errorf("api server port %d: want 1-65535", a.global.port)
	}
	return nil
}

// client returns the API client, resolving flags and config on first use.
func (a *app) client() (*client.Client, error) {
	if a.connected != nil {
		return a.connected, nil
	}
	if err := a.resolve(); err != nil {
		return nil, err
	}
	servers, ctxCA, token, err := a.contextServers()
	if err != nil {
		return nil, err
	}
	if len(servers) == 0 {
		servers = a.global.servers
	}
	if len(servers) == 0 {
		port := strconv.Itoa(int(a.global.port))
		for _, addr := range strings.Split(a.global.address, ",") {
			servers = append(servers, withPort(strings.TrimSpace(addr), port))
		}
	}
	if ctxCA == "" && a.global.caFile == "" && a.seedFlagsGiven() {
		if c := a.seedContext(servers); c != nil {
			servers, ctxCA, token = append([]string(nil), c.Servers...), c.CAFile, c.Token
		}
	}
	opts, err := a.trustOptions(ctxCA)
	if err != nil {
		return nil, err
	}
	if a.global.caFile != "" || ctxCA != "" {
		for i, s := range servers {
			if !strings.Contains(s, "://") {
				servers[i] = "https://" + s // a CA means HTTPS
			}
		}
	}
	// --token wins; then the context's token (sent only to its servers);
	// then $HUMSTACK_TOKEN.
	tok := token
	if a.root.PersistentFlags().Changed(flagToken) || tok == "" {
		tok = a.global.token
	}
	if tok != "" {
		opts = append(opts, client.WithToken(tok))
	}
	c, err := client.NewMulti(servers, opts...)
	if err != nil {
		return nil, err
	}
	a.connected = c
	return c, nil
}

// withPort is addr (one entry of --api-server-address) with port added
// unless it names its own: "10.0.0.1" and "10.0.0.1:8080" both work, so
// "a,b:9090" mixes the default port with a specific one. A full URL
// (https://host) keeps its scheme.
func withPort(addr, port string) string {
	if strings.Contains(addr, "://") {
		if u, err := url.Parse(addr); err == nil && u.Port() == "" {
			return strings.TrimRight(addr, "/") + ":" + port
		}
		return addr
	}
	if _, _, err := net.SplitHostPort(addr); err == nil {
		return addr
	}
	return net.JoinHostPort(addr, port)
}

// scope is the --g/--n scope for kind k, or everything with allScopes.
func (a *app) scope(k *api.Kind, allScopes bool) client.Scope {
	if allScopes {
		return client.Scope{}
	}
	var sc client.Scope
	if k.Scope >= api.ScopeGroup {
		sc.Group = a.global.group
	}
	if k.Scope == api.ScopeNamespace {
		sc.Namespace = a.global.namespace
	}
	return sc
}

// unreachable reports whether err means the server cannot be reached at
// all, so the remaining objects of a command are not worth trying.
func unreachable(ctx context.Context, err error) bool {
	return interrupted(ctx) || errors.Is(err, api.ErrUnavailable) || errors.Is(err, client.ErrHTTPSRequired)
}
