package audit

import (
	"context"
	"net/http/httptest"
	"testing"
)

func TestSourceAddress(t *testing.T) {
	trusted, err := ParseTrustedProxies("10.0.0.0/8, 192.168.1.1,::1")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		peer, xff      string
		addr, proxy    string
		trustedProxies bool
	}{
		{"203.0.113.7:4000", "", "203.0.113.7:4000", "", true},
		{"203.0.113.7:4000", "1.2.3.4", "203.0.113.7:4000", "", true},            // not a proxy: its header is not believed
		{"10.1.1.1:4000", "198.51.100.9", "198.51.100.9", "10.1.1.1:4000", true}, // one trusted proxy
		{"10.1.1.1:4000", "6.6.6.6, 198.51.100.9, 10.2.2.2", "198.51.100.9", "10.1.1.1:4000", true},
		{"192.168.1.1:80", "garbage, 198.51.100.9", "198.51.100.9", "192.168.1.1:80", true},
		{"10.1.1.1:4000", "198.51.100.9, garbage", "10.1.1.1:4000", "", true}, // the proxy wrote garbage
		{"[::1]:4000", "2001:db8::5", "2001:db8::5", "[::1]:4000", true},
		{"10.1.1.1:4000", "10.3.3.3", "10.3.3.3", "10.1.1.1:4000", true},
		{"10.1.1.1:4000", "198.51.100.9", "10.1.1.1:4000", "", false}, // no --trusted-proxy
	} {
		tp := trusted
		if !tc.trustedProxies {
			tp = nil
		}
		if addr, proxy := source(tc.peer, tc.xff, tp); addr != tc.addr || proxy != tc.proxy {
			t.Errorf("%s %q: %q %q, want %q %q", tc.peer, tc.xff, addr, proxy, tc.addr, tc.proxy)
		}
	}
	for _, bad := range []string{"10.0.0.0/33", "proxy.example", "1.2.3"} {
		if _, err := ParseTrustedProxies(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	// Through a request.
	sink := &memSink{}
	l := New(sink, Options{Log: quiet(), TrustedProxies: trusted})
	r := httptest.NewRequest("DELETE", "/api/v0/groups/g1", nil)
	r.RemoteAddr = "10.9.9.9:555"
	r.Header.Set("X-Forwarded-For", "198.51.100.9")
	_, a := l.Begin(context.Background(), r, "req")
	a.End(200)
	l.Close()
	evs := sink.events(t)
	if len(evs) != 1 || evs[0].SourceAddress != "198.51.100.9" || evs[0].Proxy != "10.9.9.9:555" || evs[0].ForwardedFor != "198.51.100.9" {
		t.Fatalf("%+v", evs)
	}
}
