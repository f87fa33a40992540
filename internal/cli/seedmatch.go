package cli

import (
	"net"
	"net/url"
	"strings"
)

// The seed's --api-server-address/--api-server-port (or its --config)
// choose the server by hand, and contexts then stay out of the way. But on
// the machine `make run` set up, the API server serves HTTPS with its own
// CA and wants a token: the context written for it holds both. So when
// the hand-chosen server is a context's server, that context's CA and
// token are used with it, and the seed's commands keep working as typed.

// seedContext returns the context one of whose servers is one of servers
// (host:port; localhost and the loopback addresses count as one host),
// the current context first, or nil.
func (a *app) seedContext(servers []string) *clusterCtx {
	f, _, err := loadContexts()
	if err != nil || len(f.Contexts) == 0 {
		return nil
	}
	want := map[string]bool{}
	for _, s := range servers {
		if strings.HasPrefix(s, "http://") {
			return nil // plain HTTP asked for by name
		}
		want[endpointKey(s)] = true
	}
	order := make([]*clusterCtx, 0, len(f.Contexts))
	if c := f.find(f.CurrentContext); c != nil {
		order = append(order, c)
	}
	for i := range f.Contexts {
		order = append(order, &f.Contexts[i])
	}
	for _, c := range order {
		for _, s := range c.Servers {
			if want[endpointKey(s)] {
				return c
			}
		}
	}
	return nil
}

// endpointKey is host:port of a server given as host:port or as a URL,
// with every loopback name folded into one.
func endpointKey(s string) string {
	if strings.Contains(s, "://") {
		if u, err := url.Parse(s); err == nil {
			s = u.Host
		}
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return s
	}
	if host == "localhost" {
		host = "127.0.0.1"
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
