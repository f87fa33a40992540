package loadtest

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// Client is the load generator's HTTP client: HTTPS trusting only the
// server's cluster CA, the bootstrap admin's bearer token, and HTTP/1.1
// with one connection per concurrent request, as humstack's Go client
// (client.defaultTransport), humcli and the agents talk to the server. It
// sends prepared JSON and checks status codes without decoding answers, so
// that the generator's own CPU, taken from the cores the server shares,
// stays small.
type Client struct {
	base  string
	token string
	tr    *http.Transport
	hc    *http.Client
}

// NewClient returns a client of the server at addr, trusting the CA
// certificate in caFile and sending the token in tokenFile; it keeps up to
// conns connections open.
func NewClient(addr, caFile, tokenFile string, conns int) (*Client, error) {
	ca, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("%s: no PEM certificate", caFile)
	}
	tok, err := os.ReadFile(tokenFile)
	if err != nil {
		return nil, err
	}
	token := strings.TrimSpace(string(tok))
	if token == "" {
		return nil, fmt.Errorf("%s: empty", tokenFile)
	}
	conns = max(conns, 1)
	tr := &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     time.Minute,
		ForceAttemptHTTP2:   false, // with a TLSClientConfig of our own: HTTP/1.1
	}
	return &Client{base: "https://" + addr, token: token, tr: tr, hc: &http.Client{Transport: tr}}, nil
}

// Close closes the idle connections.
func (c *Client) Close() { c.tr.CloseIdleConnections() }

// Healthy reports whether the server answers /healthz and accepts the
// token (the token file may be read before it is complete).
func (c *Client) Healthy(ctx context.Context) error {
	if err := c.Healthz(ctx); err != nil {
		return err
	}
	return c.Do(ctx, http.MethodGet, "/api/v0/groups", nil, http.StatusOK)
}

// Healthz GETs /healthz without the token, as a probe does (a token
// presented is checked, even there).
func (c *Client) Healthz(ctx context.Context) error {
	return c.do(ctx, http.MethodGet, "/healthz", nil, http.StatusOK, io.Discard, false)
}

// Do sends body (JSON, or nil) and reads the whole answer, which must have
// status want.
func (c *Client) Do(ctx context.Context, method, path string, body []byte, want int) error {
	return c.do(ctx, method, path, body, want, io.Discard, true)
}

// Read GETs path into buf (reset first), which must answer 200.
func (c *Client) Read(ctx context.Context, path string, buf *bytes.Buffer) error {
	buf.Reset()
	return c.do(ctx, http.MethodGet, path, nil, http.StatusOK, buf, true)
}

func (c *Client) do(ctx context.Context, method, path string, body []byte, want int, out io.Writer, auth bool) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	if auth {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, want, msg)
	}
	if _, err := io.Copy(out, resp.Body); err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	return nil
}

// HeapInuse returns go_memstats_heap_inuse_bytes from the server's
// /metrics: the Go heap in use, without what the runtime has not yet
// returned to the system (which RSS counts).
func (c *Client) HeapInuse(ctx context.Context) (int64, error) {
	var buf bytes.Buffer
	if err := c.Read(ctx, "/metrics", &buf); err != nil {
		return 0, err
	}
	return parseMetric(buf.String(), "go_memstats_heap_inuse_bytes")
}

// parseMetric returns the value of an unlabelled metric in the Prometheus
// text format.
func parseMetric(text, name string) (int64, error) {
	for line := range strings.Lines(text) {
		v, ok := strings.CutPrefix(line, name+" ")
		if !ok {
			continue
		}
		var f float64
		if _, err := fmt.Sscan(strings.TrimSpace(v), &f); err != nil {
			return 0, fmt.Errorf("metric %s: %w", name, err)
		}
		return int64(f), nil
	}
	return 0, errors.New("metric " + name + " not in /metrics")
}

// Profile fetches /debug/pprof/<what> from the server's pprof listener
// into file (a CPU profile with "profile?seconds=N" takes N seconds).
func Profile(ctx context.Context, pprofAddr, what, file string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+pprofAddr+"/debug/pprof/"+what, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("profile %s: %w", what, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("profile %s: status %d: %s", what, resp.StatusCode, msg)
	}
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, resp.Body); err != nil {
		return fmt.Errorf("profile %s: %w", what, err)
	}
	return os.WriteFile(file, buf.Bytes(), 0o644)
}
