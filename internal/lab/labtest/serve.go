package labtest

import (
	"crypto/ed25519"
	"crypto/rand"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/humstack/humstack/internal/lab"
)

// ServeFromHub serves the file at path over HTTP from the lab's hub
// namespace, as a user's image server would, until the test ends, and
// returns its URL (any path of the server gives the file).
func ServeFromHub(t testing.TB, l *lab.Lab, path string) string {
	t.Helper()
	ln, err := lab.Listen(l.NS(lab.Hub), "tcp", lab.HubAddress+":0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, path) })}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String() + "/disk.qcow2"
}

// NewKey returns a fresh ed25519 SSH key: the signer to log in with and
// the public key in authorized_keys form, for a guest's loginUsers.
func NewKey(t testing.TB) (ssh.Signer, string) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return signer, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey())))
}
