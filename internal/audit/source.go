package audit

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// ParseTrustedProxies reads --trusted-proxy: comma-separated addresses or
// CIDR prefixes of reverse proxies whose X-Forwarded-For is believed.
func ParseTrustedProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			a, aerr := netip.ParseAddr(f)
			if aerr != nil {
				return nil, fmt.Errorf("--trusted-proxy %q: want an address or a CIDR prefix", f)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// source is the request's source address and, when it was read from
// X-Forwarded-For, the trusted proxy that reported it. Only a peer in
// trusted is believed, and only as far back as the chain of trusted
// proxies goes: the first address from the right that is not a trusted
// proxy is the client (what a proxy appends cannot be forged by the
// client; what the client wrote to the left can).
func source(remoteAddr, xff string, trusted []netip.Prefix) (addr, proxy string) {
	if len(trusted) == 0 || xff == "" || !isTrusted(hostOf(remoteAddr), trusted) {
		return remoteAddr, ""
	}
	hops := strings.Split(xff, ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop := strings.TrimSpace(hops[i])
		a, err := netip.ParseAddr(hop)
		if err != nil {
			break // garbage: stop believing here
		}
		if !isTrusted(a, trusted) || i == 0 {
			return a.String(), remoteAddr
		}
	}
	return remoteAddr, ""
}

func hostOf(remoteAddr string) netip.Addr {
	h, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		h = remoteAddr
	}
	a, _ := netip.ParseAddr(h)
	return a.Unmap()
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	a = a.Unmap()
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
