package console

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"net"
	"net/http"
	"path/filepath"
	"sync"

	"github.com/coder/websocket"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/agent/downloadapi"
)

// The node API paths of one VM's consoles.
const (
	pathPrefix  = "/v0/consoles/"
	basePattern = pathPrefix + "{group}/{namespace}/{id}"
)

// SerialPath, LogPath and VNCPath are the node API paths of VM k's serial
// console (websocket), its serial log (text) and its VNC console
// (websocket); k's IDs must be valid (api.IsID).
func SerialPath(k Key) string { return basePath(k) + "/serial" }

// LogPath: see SerialPath.
func LogPath(k Key) string { return basePath(k) + "/log" }

// VNCPath: see SerialPath.
func VNCPath(k Key) string { return basePath(k) + "/vnc" }

func basePath(k Key) string { return pathPrefix + k.Group + "/" + k.Namespace + "/" + k.ID }

// Subprotocol is the websocket subprotocol offered on both consoles; noVNC
// asks for it.
const Subprotocol = "binary"

// Register adds the consoles of the VMs with a relay to r, the node
// listener (downloadapi.Listener), whose rule table admits only the API
// server to them:
//
//	GET /v0/consoles/{group}/{namespace}/{id}/serial  websocket, binary frames both ways
//	GET /v0/consoles/{group}/{namespace}/{id}/log     serial.log.1 + serial.log, text/plain
//	GET /v0/consoles/{group}/{namespace}/{id}/vnc     websocket proxied to a new vnc.sock connection
//
// The routes do no authorization of their own. Every route answers 404 for
// a VM this node does not run (no relay, no directory, no socket or no log).
func (m *Manager) Register(r downloadapi.Registrar) {
	r.HandleFunc("GET "+basePattern+"/serial", m.serveSerial)
	r.HandleFunc("GET "+basePattern+"/log", m.serveLog)
	r.HandleFunc("GET "+basePattern+"/vnc", m.serveVNC)
}

// keyOf reads and checks the VM of a request; on failure it has answered.
func keyOf(w http.ResponseWriter, r *http.Request) (Key, bool) {
	k := Key{Group: r.PathValue("group"), Namespace: r.PathValue("namespace"), ID: r.PathValue("id")}
	if !api.IsID(k.Group) || !api.IsID(k.Namespace) || !api.IsID(k.ID) {
		http.Error(w, "bad id in path", http.StatusBadRequest)
		return k, false
	}
	return k, true
}

func (m *Manager) serveSerial(w http.ResponseWriter, r *http.Request) {
	k, ok := keyOf(w, r)
	if !ok {
		return
	}
	rl := m.relay(k)
	if rl == nil || !dirExists(rl.dir) {
		http.Error(w, "no serial console for this VM on this node", http.StatusNotFound)
		return
	}
	s, recent, ok := rl.attach()
	if !ok {
		http.Error(w, "the serial console of this VM has stopped", http.StatusNotFound)
		return
	}
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{Subprotocol}})
	if err != nil {
		rl.detach(s) // Accept has answered
		return
	}
	log := rl.log.With("remote", r.RemoteAddr)
	log.Info("serial console session attached")
	serveSession(c, rl, s, recent)
	log.Info("serial console session ended")
}

// serveSession pumps a session: recent output first, then live output to
// the client, and the client's messages to the serial port, until either
// side ends. The request's context is not used: the connection is hijacked.
func serveSession(c *websocket.Conn, rl *relay, s *session, recent []byte) {
	defer c.CloseNow()
	defer rl.detach(s)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	inputDone := make(chan struct{})
	go func() {
		defer close(inputDone)
		defer cancel()
		for {
			_, data, err := c.Read(ctx)
			if err != nil {
				return
			}
			// Input while QEMU is away is dropped, as a real serial line would.
			_ = rl.write(data)
		}
	}()
	defer func() { <-inputDone }()
	if len(recent) > 0 && c.Write(ctx, websocket.MessageBinary, recent) != nil {
		return
	}
	for {
		select {
		case chunk, ok := <-s.out:
			if !ok {
				c.Close(websocket.StatusGoingAway, "console relay stopped or session too slow")
				return
			}
			if c.Write(ctx, websocket.MessageBinary, chunk) != nil {
				return
			}
		case <-ctx.Done():
			return
		}
	}
}

func (m *Manager) serveLog(w http.ResponseWriter, r *http.Request) {
	k, ok := keyOf(w, r)
	if !ok {
		return
	}
	var rc io.ReadCloser
	var err error
	if rl := m.relay(k); rl != nil {
		// Under the relay's lock, so no rotation splits the pair.
		rl.mu.Lock()
		rc, err = openLogs(rl.dir)
		rl.mu.Unlock()
	} else {
		rc, err = openLogs(m.dirOf(k))
	}
	if errors.Is(err, fs.ErrNotExist) {
		http.Error(w, "no serial console log for this VM on this node", http.StatusNotFound)
		return
	}
	if err != nil {
		m.log.Error("serial console log open failed", "vm", k.String(), "err", err)
		http.Error(w, "cannot open the serial console log", http.StatusInternalServerError)
		return
	}
	defer rc.Close()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = io.Copy(w, rc)
}

func (m *Manager) serveVNC(w http.ResponseWriter, r *http.Request) {
	k, ok := keyOf(w, r)
	if !ok {
		return
	}
	var d net.Dialer
	vnc, err := d.DialContext(r.Context(), "unix", filepath.Join(m.dirOf(k), VNCSocket))
	if errors.Is(err, fs.ErrNotExist) {
		http.Error(w, "no VNC console for this VM on this node", http.StatusNotFound)
		return
	}
	if err != nil {
		http.Error(w, "the VNC console of this VM does not answer (is the VM running?)", http.StatusServiceUnavailable)
		return
	}
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{Subprotocol}})
	if err != nil {
		vnc.Close()
		return
	}
	log := m.log.With("vm", k.String(), "remote", r.RemoteAddr)
	log.Info("VNC console session attached")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pipe(websocket.NetConn(ctx, c, websocket.MessageBinary), vnc)
	log.Info("VNC console session ended")
}

// pipe copies a to b and b to a until either side ends, then closes both
// and waits for both copies.
func pipe(a, b io.ReadWriteCloser) {
	var once sync.Once
	closeBoth := func() { once.Do(func() { a.Close(); b.Close() }) }
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); defer closeBoth(); _, _ = io.Copy(a, b) }()
	go func() { defer wg.Done(); defer closeBoth(); _, _ = io.Copy(b, a) }()
	wg.Wait()
}
