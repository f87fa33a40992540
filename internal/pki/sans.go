package pki

import (
	"crypto/x509"
	"net"
	"os"
	"slices"
	"strings"
)

// ServingHosts is what a serving certificate must name: the listen address
// (unless it is a wildcard), the host's name, localhost, 127.0.0.1 and ::1,
// and extra (the --tls-san values), without duplicates.
func ServingHosts(listenAddress string, extra []string) []string {
	hosts := []string{"localhost", "127.0.0.1", "::1"}
	if ip := net.ParseIP(listenAddress); listenAddress != "" && (ip == nil || !ip.IsUnspecified()) {
		hosts = append(hosts, listenAddress)
	} else {
		// A wildcard listener is reached by any of the host's addresses.
		hosts = append(hosts, interfaceIPs()...)
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		hosts = append(hosts, h)
	}
	for _, e := range extra {
		if e = strings.TrimSpace(e); e != "" {
			hosts = append(hosts, e)
		}
	}
	var out []string
	for _, h := range hosts {
		if !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	return out
}

func interfaceIPs() []string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var out []string
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLinkLocalUnicast() {
			out = append(out, n.IP.String())
		}
	}
	return out
}

func addSANs(tmpl *x509.Certificate, hosts []string) {
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
}

// Covers reports whether cert names every host.
func Covers(cert *x509.Certificate, hosts []string) bool {
	for _, h := range hosts {
		if cert.VerifyHostname(h) != nil {
			return false
		}
	}
	return true
}
