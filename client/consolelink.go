package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/coder/websocket"

	"github.com/humstack/humstack/api"
)

// A console link's URL (what `humcli console-link` prints, or the create
// answer's status URLs made absolute) opens one VM's consoles with no other
// credential. These functions take any of its three URLs (serial, VNC,
// log; ws, wss, http or https) and open the one asked for.

// consoleLinkURL rewrites a console link URL to the console at suffix
// ("/serial", "/ws", "/serial/log") with the scheme it needs.
func consoleLinkURL(raw, suffix string, websock bool) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || !u.Query().Has("link") {
		return "", api.Invalid("link", "%q is not a console link URL (want ws://HOST/.../virtualmachines/VM/serial?link=TOKEN)", raw)
	}
	vm := u.Path
	for _, s := range []string{"/serial/log", "/serial", "/ws"} {
		if p, ok := strings.CutSuffix(vm, s); ok {
			vm = p
			break
		}
	}
	if vm == u.Path {
		return "", api.Invalid("link", "%q is not a console link URL: its path does not end in /serial, /ws or /serial/log", raw)
	}
	u.Path = vm + suffix
	secure := u.Scheme == "wss" || u.Scheme == "https"
	switch {
	case websock && secure:
		u.Scheme = "wss"
	case websock:
		u.Scheme = "ws"
	case secure:
		u.Scheme = "https"
	default:
		u.Scheme = "http"
	}
	return u.String(), nil
}

// DialConsoleLink attaches to the serial console a console link opens, like
// Client.DialConsole.
func DialConsoleLink(ctx context.Context, link string) (*websocket.Conn, error) {
	u, err := consoleLinkURL(link, "/serial", true)
	if err != nil {
		return nil, err
	}
	conn, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{
		HTTPClient: &http.Client{Transport: defaultTransport()}, Subprotocols: []string{"binary"},
	})
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			var b []byte
			if resp.Body != nil {
				b, _ = io.ReadAll(resp.Body)
			}
			return nil, responseError(resp.StatusCode, b)
		}
		return nil, fmt.Errorf("console link: %v: %w", unwrapURLError(err), api.ErrUnavailable)
	}
	conn.SetReadLimit(maxConsoleMessage)
	return conn, nil
}

// ConsoleLinkLog returns the console log a console link opens, like
// Client.ConsoleLog; the caller closes it.
func ConsoleLinkLog(ctx context.Context, link string) (io.ReadCloser, error) {
	u, err := consoleLinkURL(link, "/serial/log", false)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, api.Invalid("link", "%v", err)
	}
	resp, err := (&http.Client{Transport: defaultTransport()}).Do(req)
	if err != nil {
		return nil, fmt.Errorf("console link: %v: %w", unwrapURLError(err), api.ErrUnavailable)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return nil, responseError(resp.StatusCode, b)
	}
	return resp.Body, nil
}
