package client

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/coder/websocket"

	"github.com/humstack/humstack/api"
)

// maxConsoleMessage bounds one console message read from the server.
const maxConsoleMessage = 1 << 20

// DialConsole attaches to the serial console of VM id in sc: binary
// messages carry the console's bytes both ways. The first message holds
// the last few KiB of output, so the current prompt shows. Several
// sessions may share a console; close the connection to leave. A VM that
// has no console yet fails with api.ErrUnavailable, a missing one with
// api.ErrNotFound.
func (c *Client) DialConsole(ctx context.Context, sc Scope, id string) (*websocket.Conn, error) {
	return c.dialVM(ctx, sc, id, "/serial")
}

// DialVNC opens the VNC console of VM id in sc: binary messages carry the
// RFB protocol both ways (what noVNC speaks over its websocket).
func (c *Client) DialVNC(ctx context.Context, sc Scope, id string) (*websocket.Conn, error) {
	return c.dialVM(ctx, sc, id, "/ws")
}

// ConsoleLog returns the serial console log of VM id in sc (its last MiBs
// of output, kept on the VM's node); the caller closes it.
func (c *Client) ConsoleLog(ctx context.Context, sc Scope, id string) (io.ReadCloser, error) {
	p, err := objectPath(api.VirtualMachineKind, sc, id)
	if err != nil {
		return nil, err
	}
	p += "/serial/log"
	resp, err := c.send(ctx, http.MethodGet, p, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w: %w", p, tlsHint(unwrapURLError(err)), api.ErrUnavailable)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return nil, responseError(resp.StatusCode, b)
	}
	return resp.Body, nil
}

func (c *Client) dialVM(ctx context.Context, sc Scope, id, suffix string) (*websocket.Conn, error) {
	p, err := objectPath(api.VirtualMachineKind, sc, id)
	if err != nil {
		return nil, err
	}
	p += suffix
	conn, resp, err := websocket.Dial(ctx, c.base()+p, &websocket.DialOptions{
		HTTPClient: c.hc, Subprotocols: []string{"binary"}, HTTPHeader: c.authHeader(),
	})
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			var b []byte
			if resp.Body != nil {
				b, _ = io.ReadAll(resp.Body) // at most 1 KiB: see websocket.Dial
			}
			return nil, responseError(resp.StatusCode, b)
		}
		return nil, fmt.Errorf("GET %s: %w: %w", p, tlsHint(unwrapURLError(err)), api.ErrUnavailable)
	}
	conn.SetReadLimit(maxConsoleMessage)
	return conn, nil
}

// responseError turns a failed response's envelope into an api error.

// authHeader is the Authorization header of the client's token, if any.
func (c *Client) authHeader() http.Header {
	if c.token == "" {
		return nil
	}
	return http.Header{"Authorization": {"Bearer " + c.token}}
}
