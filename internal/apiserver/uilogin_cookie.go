package apiserver

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"time"
)

// A sign-in in progress waits in one cookie, sealed (AES-GCM) under a key
// each apiserver process draws at start: the browser holds it but can
// neither read nor change it. A sign-in started before a restart, or on
// another apiserver behind the same address, fails with a clear message
// ("start again"), which costs the user one click. The cookie is HttpOnly,
// Secure over TLS, SameSite=Lax (the issuer's redirect back is a
// top-level GET, which Lax lets through), scoped to /ui/oidc/, and
// cleared by the callback whatever its outcome.

const (
	loginCookie     = "humstack_oidc_login"
	loginCookiePath = "/ui/oidc/"
	loginCookieAAD  = "humstack oidc login v1"
)

// loginState is what a sign-in remembers between login and callback.
type loginState struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	Return   string `json:"r"`
	Expires  int64  `json:"e"` // Unix seconds
}

// uiLogin is the sign-in's configuration and its cookie key.
type uiLogin struct {
	cfg  OIDCLogin
	aead cipher.AEAD
}

func newUILogin(cfg *OIDCLogin) *uiLogin {
	if cfg == nil || cfg.Auth == nil {
		return nil
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	block, err := aes.NewCipher(key)
	if err != nil {
		panic(err) // a 32-byte key always makes AES-256
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return &uiLogin{cfg: *cfg, aead: aead}
}

func (l *uiLogin) setCookie(w http.ResponseWriter, r *http.Request, st loginState) {
	plain, _ := json.Marshal(st)
	nonce := make([]byte, l.aead.NonceSize())
	_, _ = rand.Read(nonce)
	sealed := l.aead.Seal(nonce, nonce, plain, []byte(loginCookieAAD))
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: base64.RawURLEncoding.EncodeToString(sealed),
		Path: loginCookiePath, MaxAge: int(loginTTL.Seconds()), HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode})
}

func (l *uiLogin) clearCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: "", Path: loginCookiePath, MaxAge: -1,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode})
}

// errLoginLost is the answer to a callback without a readable sign-in.
var errLoginLost = errors.New("the sign-in expired or was started before the server restarted: start again")

// readCookie opens the sign-in's cookie; a missing, tampered, foreign or
// expired one is errLoginLost.
func (l *uiLogin) readCookie(r *http.Request) (loginState, error) {
	var st loginState
	c, err := r.Cookie(loginCookie)
	if err != nil {
		return st, errLoginLost
	}
	sealed, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil || len(sealed) < l.aead.NonceSize() {
		return st, errLoginLost
	}
	n := l.aead.NonceSize()
	plain, err := l.aead.Open(nil, sealed[:n], sealed[n:], []byte(loginCookieAAD))
	if err != nil || json.Unmarshal(plain, &st) != nil || time.Now().Unix() > st.Expires {
		return loginState{}, errLoginLost
	}
	return st, nil
}

// equalSecret compares a value from the request with a secret in time
// independent of where they differ; empty never matches.
func equalSecret(got, want string) bool {
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }
