package apiserver_test

import (
	"bufio"
	"crypto/tls"
	"encoding/binary"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/humstack/humstack/internal/apiserver"
)

// h2Settings reads the server's first SETTINGS frame on a new HTTP/2
// connection to addr: setting id -> value.
func h2Settings(t *testing.T, addr string, conf *tls.Config) map[uint16]uint32 {
	t.Helper()
	conf = conf.Clone()
	conf.NextProtos = []string{"h2"}
	conn, err := tls.Dial("tcp", addr, conf)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00"); err != nil {
		t.Fatal(err)
	}
	for {
		var h [9]byte
		if _, err := io.ReadFull(conn, h[:]); err != nil {
			t.Fatal(err)
		}
		n := int(h[0])<<16 | int(h[1])<<8 | int(h[2])
		payload := make([]byte, n)
		if _, err := io.ReadFull(conn, payload); err != nil {
			t.Fatal(err)
		}
		if h[3] != 4 || h[4]&1 != 0 { // not SETTINGS, or its ACK
			continue
		}
		out := map[uint16]uint32{}
		for i := 0; i+6 <= len(payload); i += 6 {
			out[binary.BigEndian.Uint16(payload[i:])] = binary.BigEndian.Uint32(payload[i+2:])
		}
		return out
	}
}

// TestHTTP2WatchAndConsole: the server Serve runs, over TLS with HTTP/2:
// its SETTINGS cap a connection at 100 streams and never offer extended
// CONNECT (so browsers keep websockets on HTTP/1.1); a watch stream over
// HTTP/2 delivers events; a console websocket on an HTTP/1.1 connection
// (what a browser opens) works while that watch is open.
func TestHTTP2WatchAndConsole(t *testing.T) {
	e := newConsoleEnv(t, nodeSecret)
	srv := httptest.NewUnstartedServer(nil)
	srv.Config = apiserver.HTTPServer(e.api)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(func() { srv.CloseClientConnections(); srv.Close() })
	addr := strings.TrimPrefix(srv.URL, "https://")
	tc := srv.Client().Transport.(*http.Transport).TLSClientConfig

	set := h2Settings(t, addr, tc)
	const maxStreams, enableConnect = 0x3, 0x8
	if set[maxStreams] != 100 || set[enableConnect] != 0 {
		t.Errorf("SETTINGS %v: want MAX_CONCURRENT_STREAMS 100 and no ENABLE_CONNECT_PROTOCOL", set)
	}

	req, _ := http.NewRequestWithContext(ctx(t), "GET", srv.URL+vmPath+"?watch=true", nil)
	resp, err := srv.Client().Do(req)
	if err != nil || resp.StatusCode != 200 || resp.ProtoMajor != 2 {
		t.Fatalf("watch over HTTP/2: %v %v", resp, err)
	}
	defer resp.Body.Close()
	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()

	h1 := tc.Clone()
	h1.NextProtos = []string{"http/1.1"}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: h1}}
	conn, wresp, err := websocket.Dial(ctx(t), "wss://"+addr+vmPath+"/vm1/serial",
		&websocket.DialOptions{HTTPClient: hc, Subprotocols: []string{"binary"}})
	if err != nil {
		t.Fatalf("console websocket next to the HTTP/2 watch: %v %v", wresp, err)
	}
	readUntil(t, conn, "tiny login: ")
	conn.Close(websocket.StatusNormalClosure, "")

	e.create(t, vmDoc("vm7", "worker1"))
	deadline := time.After(10 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("the HTTP/2 watch ended")
			}
			if strings.HasPrefix(l, "data: ") && strings.Contains(l, `"id":"vm7"`) {
				return
			}
		case <-deadline:
			t.Fatal("no event for vm7 on the HTTP/2 watch in 10 s")
		}
	}
}
