// Command apiserver serves humstack's REST and watch API.
//
//	apiserver [flags]                 serve
//	apiserver export [flags] > dump   write every stored object as JSON lines
//	apiserver import [flags] < dump   load a dump into an empty store
//
// export and import take the store flags (--store, --data-dir, --etcd-*):
// `apiserver export --data-dir ./database | apiserver import --store etcd
// --etcd-endpoints ...` moves a single-node installation onto etcd.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/humstack/humstack/internal/apiserver"
	"github.com/humstack/humstack/internal/auth"
	"github.com/humstack/humstack/internal/placement"
)

func main() {
	cmd, args := "serve", os.Args[1:]
	if len(args) > 0 && (args[0] == "export" || args[0] == "import") {
		cmd, args = args[0], args[1:]
	}
	var cfg apiserver.Config
	var level slog.Level
	var endpoints string
	fs := flag.NewFlagSet("apiserver "+cmd, flag.ExitOnError)
	fs.StringVar(&cfg.ListenAddress, "listen-address", "0.0.0.0", "address to listen on")
	fs.IntVar(&cfg.ListenPort, "listen-port", 8080, "port to listen on")
	fs.StringVar(&cfg.Store, "store", "bolt", "storage backend: bolt (embedded) or etcd")
	fs.StringVar(&cfg.DataDir, "data-dir", "./database", "directory of the embedded store")
	fs.StringVar(&endpoints, "etcd-endpoints", "", "etcd members for --store etcd, comma-separated host:port")
	fs.StringVar(&cfg.Etcd.CAFile, "etcd-cafile", "", "CA bundle verifying the etcd members (TLS)")
	fs.StringVar(&cfg.Etcd.CertFile, "etcd-certfile", "", "client certificate for etcd (TLS)")
	fs.StringVar(&cfg.Etcd.KeyFile, "etcd-keyfile", "", "client key for etcd (TLS)")
	fs.StringVar(&cfg.Etcd.Prefix, "etcd-prefix", "/humstack/", "etcd key prefix of this installation")
	fs.StringVar(&cfg.NodeSecretFile, "node-secret-file", "", "file holding the cluster's shared secret (the agents' downloadAPI secret), to reach VM consoles; without it consoles are off")
	fs.StringVar(&cfg.Authorization, "authorization", apiserver.AuthorizationRBAC, "rbac (tokens, roles and bindings; see docs/security.md) or off (everyone may do everything: a trusted lab, or the original humstack's clients)")
	fs.StringVar(&cfg.Audit.Path, "audit-log", "", "write the audit log (JSON lines: writes, console sessions, denied requests) to this file, or - for standard output; empty: no audit log")
	fs.IntVar(&cfg.Audit.MaxSizeMB, "audit-log-max-size", 100, "rotate the audit log file when it reaches this many megabytes")
	fs.IntVar(&cfg.Audit.MaxBackups, "audit-log-max-backups", 10, "rotated audit log files to keep (0: keep all)")
	fs.StringVar(&cfg.TrustedProxies, "trusted-proxy", "", "reverse proxies (comma-separated addresses or CIDRs) whose X-Forwarded-For gives the audit log's source address")
	fs.StringVar(&cfg.TLS.Mode, "tls", "", "auto (the default: HTTPS with a cluster CA and serving certificate made at first start) or off (plain HTTP, like --insecure-http)")
	fs.StringVar(&cfg.TLS.CertFile, "tls-cert-file", "", "serving certificate (PEM) instead of one from the cluster CA; needs --tls auto")
	fs.StringVar(&cfg.TLS.KeyFile, "tls-key-file", "", "key of --tls-cert-file (PEM)")
	fs.StringVar(&cfg.TLS.ClientCAFile, "client-ca-file", "", "more CAs (PEM) that client certificates may chain to, besides the cluster CA")
	fs.Func("tls-san", "extra name or address of the serving certificate (repeatable or comma-separated)", func(v string) error {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				cfg.TLS.SANs = append(cfg.TLS.SANs, s)
			}
		}
		return nil
	})
	fs.StringVar(&cfg.OIDC.IssuerURL, "oidc-issuer-url", "", "admit ID tokens of this OpenID Connect issuer (https URL, e.g. a Keycloak realm) as bearer tokens; needs --authorization rbac")
	fs.StringVar(&cfg.OIDC.ClientID, "oidc-client-id", "", "client id the ID tokens must be issued for (their audience); required with --oidc-issuer-url")
	fs.StringVar(&cfg.OIDC.UsernameClaim, "oidc-username-claim", auth.DefaultOIDCUsernameClaim, "ID token claim giving the user name (e.g. preferred_username, email)")
	fs.StringVar(&cfg.OIDC.UsernamePrefix, "oidc-username-prefix", auth.DefaultOIDCUsernamePrefix, "prefix of every OIDC user name, so that none can be taken for a token user or a node")
	fs.StringVar(&cfg.OIDC.GroupsClaim, "oidc-groups-claim", auth.DefaultOIDCGroupsClaim, "ID token claim listing the user's groups")
	fs.StringVar(&cfg.OIDC.GroupsPrefix, "oidc-groups-prefix", "", "prefix of every group name from the groups claim (e.g. oidc:)")
	fs.StringVar(&cfg.OIDC.CAFile, "oidc-ca-file", "", "CA certificates (PEM) to trust for the issuer instead of the system's (a private issuer)")
	fs.StringVar(&cfg.OIDC.RedirectURL, "oidc-redirect-url", "", "the web console sign-in's callback URL, as the issuer allows it (default: the request's scheme and host + /ui/oidc/callback)")
	fs.StringVar(&cfg.OIDC.ClientSecretFile, "oidc-client-secret-file", "", "file holding the client secret, for an issuer that wants a confidential client (default: a public client)")
	fs.BoolVar(&cfg.TLS.InsecureHTTP, "insecure-http", false, "serve plain HTTP on purpose (a trusted lab, or the original humstack's clients), with a warning; tokens then cross the network in clear")
	metrics := fs.Bool("metrics", true, "serve Prometheus metrics on GET /metrics (role metrics or cluster-admin; see docs/metrics.md); false: no /metrics and no request or store metrics")
	fs.DurationVar(&cfg.EventTTL, "event-ttl", apiserver.DefaultEventTTL, "delete an event not seen again for this long")
	fs.IntVar(&cfg.MaxEvents, "max-events", apiserver.DefaultMaxEvents, "the most events the store holds; the least recently seen go first")
	fs.Float64Var(&cfg.Ratios.CPU, "cpu-overcommit-ratio", placement.DefaultRatios.CPU, "how many times its vCPUs (limitVcpus) a node may be given in VMs' requestVcpus")
	fs.Float64Var(&cfg.Ratios.Memory, "memory-overcommit-ratio", placement.DefaultRatios.Memory, "how many times its memory (limitMemory) a node may be given in VMs' requestMemory")
	fs.Float64Var(&cfg.Ratios.Storage, "storage-overcommit-ratio", placement.DefaultRatios.Storage, "how many times its disk space (limitStorage) a node may be given in disks' requestSize")
	fs.DurationVar(&cfg.ResetInterval, "reset-interval", apiserver.DefaultResetInterval, "the least time between two resets of one environment copy asked for by its team (operator or editor of the copy's namespace; see docs/security.md); 0: none, only one unfinished reset at a time")
	fs.StringVar(&cfg.PprofAddress, "pprof-address", "", "serve Go's profiles (net/http/pprof, unauthenticated) on this host:port, e.g. 127.0.0.1:6060: a debugging tool, keep it on loopback; empty: off")
	fs.TextVar(&level, "log-level", slog.LevelInfo, "log level: debug, info, warn, error")
	_ = fs.Parse(args)
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "apiserver: unexpected arguments %q\n", fs.Args())
		os.Exit(2)
	}
	cfg.DisableMetrics = !*metrics
	if cfg.ResetInterval == 0 { // the Config takes 0 for the default
		cfg.ResetInterval = -1
	}
	// The Config takes 0 for the default; on the command line it is a mistake.
	if r := cfg.Ratios; !(r.CPU > 0 && r.Memory > 0 && r.Storage > 0) {
		fmt.Fprintf(os.Stderr, "apiserver: overcommit ratios must be greater than 0 (cpu %v, memory %v, storage %v)\n", r.CPU, r.Memory, r.Storage)
		os.Exit(2)
	}
	for _, e := range strings.Split(endpoints, ",") {
		if e = strings.TrimSpace(e); e != "" {
			cfg.Etcd.Endpoints = append(cfg.Etcd.Endpoints, e)
		}
	}
	cfg.Out = os.Stdout
	cfg.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var err error
	switch cmd {
	case "export":
		err = apiserver.Export(ctx, cfg, os.Stdout)
	case "import":
		err = apiserver.Import(ctx, cfg, os.Stdin)
	default:
		err = apiserver.Run(ctx, cfg)
	}
	if err != nil {
		cfg.Log.Error("apiserver "+cmd+" failed", "err", err)
		os.Exit(1)
	}
}
