package apiserver

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/humstack/humstack/api"
)

// A sign-in in progress waits in a cookie of its own (named after its
// state, so two tabs signing in at once do not overwrite each other),
// sealed (AES-GCM) under a key derived from the cluster's console-link key
// (linkKeys, in the store): the browser holds it but can neither read nor
// change it, and every apiserver on one store opens it, so the callback
// may land on another apiserver behind the same address. The cookie is
// HttpOnly, Secure over TLS or when --oidc-redirect-url is https (TLS
// ends at a proxy), SameSite=Lax (the issuer's redirect back is a
// top-level GET, which Lax lets through), scoped to /ui/oidc/, lives ten
// minutes, and is cleared by the callback that matches its state.

const (
	loginCookiePrefix = "humstack_oidc_login_"
	loginCookiePath   = "/ui/oidc/"
	loginCookieAAD    = "humstack oidc login v1"
	loginKeyInfo      = "humstack oidc login cookie v1"
	// loginCookieName is the length of the state's part in a cookie name.
	loginCookieName = 8
	// maxLoginCookies bounds the sign-ins a callback looks at.
	maxLoginCookies = 8
)

// loginState is what a sign-in remembers between login and callback.
type loginState struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	Return   string `json:"r"`
	// Bind is the app's random value (?bind=), echoed to it with the ID
	// token: the app takes a token only from a sign-in it started.
	Bind string `json:"b"`
	// Redirect is the callback URL sent to the issuer, which the code
	// exchange must repeat.
	Redirect string `json:"u"`
	Expires  int64  `json:"e"` // Unix seconds
}

// uiLogin is the sign-in's configuration and its cookie key.
type uiLogin struct {
	cfg  OIDCLogin
	keys func(context.Context) ([]byte, error) // the cluster's secret
	now  func() time.Time
	mu   sync.Mutex
	aead cipher.AEAD // nil until the first use
}

func newUILogin(cfg *OIDCLogin, keys func(context.Context) ([]byte, error)) *uiLogin {
	if cfg == nil || cfg.Auth == nil {
		return nil
	}
	return &uiLogin{cfg: *cfg, keys: keys, now: time.Now}
}

// cipher is the cookie's AEAD, from the cluster's secret (read once).
func (l *uiLogin) cipher(ctx context.Context) (cipher.AEAD, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.aead != nil {
		return l.aead, nil
	}
	secret, err := l.keys(ctx)
	if err != nil {
		return nil, err
	}
	key, err := hkdf.Key(sha256.New, secret, nil, loginKeyInfo, 32)
	if err != nil {
		return nil, fmt.Errorf("sign-in cookie key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("sign-in cookie key: %w", err)
	}
	if l.aead, err = cipher.NewGCM(block); err != nil {
		return nil, fmt.Errorf("sign-in cookie key: %w", err)
	}
	return l.aead, nil
}

// secure says whether the browser reaches the server over TLS.
func (l *uiLogin) secure(r *http.Request) bool {
	return r.TLS != nil || strings.HasPrefix(l.cfg.RedirectURL, "https://")
}

func cookieName(state string) string {
	return loginCookiePrefix + state[:min(len(state), loginCookieName)]
}

func (l *uiLogin) setCookie(w http.ResponseWriter, r *http.Request, st loginState) error {
	aead, err := l.cipher(r.Context())
	if err != nil {
		return err
	}
	plain, _ := json.Marshal(st)
	nonce := make([]byte, aead.NonceSize())
	_, _ = rand.Read(nonce)
	sealed := aead.Seal(nonce, nonce, plain, []byte(loginCookieAAD))
	http.SetCookie(w, &http.Cookie{Name: cookieName(st.State), Value: base64.RawURLEncoding.EncodeToString(sealed),
		Path: loginCookiePath, MaxAge: int(loginTTL.Seconds()), HttpOnly: true, Secure: l.secure(r), SameSite: http.SameSiteLaxMode})
	return nil
}

func (l *uiLogin) clearCookie(w http.ResponseWriter, r *http.Request, state string) {
	http.SetCookie(w, &http.Cookie{Name: cookieName(state), Value: "", Path: loginCookiePath, MaxAge: -1,
		HttpOnly: true, Secure: l.secure(r), SameSite: http.SameSiteLaxMode})
}

// errLoginLost is the answer to a callback without a readable sign-in.
var errLoginLost = fmt.Errorf("the sign-in expired or was not started in this browser: start again: %w", api.ErrUnauthorized)

// errStateMismatch is the answer to a callback whose state is none of the
// browser's sign-ins'.
var errStateMismatch = fmt.Errorf("the sign-in's state does not match: start again: %w", api.ErrUnauthorized)

// readCookie finds the sign-in whose state the callback carries among the
// browser's sign-in cookies; missing, tampered, foreign and expired ones
// are skipped. None readable: errLoginLost; readable ones, but none with
// this state: errStateMismatch.
func (l *uiLogin) readCookie(r *http.Request, state string) (loginState, error) {
	aead, err := l.cipher(r.Context())
	if err != nil {
		return loginState{}, err
	}
	seen := 0
	readable := false
	for _, c := range r.Cookies() {
		if !strings.HasPrefix(c.Name, loginCookiePrefix) {
			continue
		}
		if seen++; seen > maxLoginCookies {
			break
		}
		st, ok := l.open(aead, c.Value)
		if !ok || c.Name != cookieName(st.State) {
			continue
		}
		readable = true
		if equalSecret(state, st.State) {
			return st, nil
		}
	}
	if readable {
		return loginState{}, errStateMismatch
	}
	return loginState{}, errLoginLost
}

// open unseals a cookie's value; false when it is not one of ours or has
// expired.
func (l *uiLogin) open(aead cipher.AEAD, value string) (loginState, bool) {
	var st loginState
	sealed, err := base64.RawURLEncoding.DecodeString(value)
	n := aead.NonceSize()
	if err != nil || len(sealed) < n {
		return st, false
	}
	plain, err := aead.Open(nil, sealed[:n], sealed[n:], []byte(loginCookieAAD))
	if err != nil || json.Unmarshal(plain, &st) != nil || l.now().Unix() > st.Expires {
		return loginState{}, false
	}
	return st, true
}

// equalSecret compares a value from the request with a secret in time
// independent of where they differ; empty never matches.
func equalSecret(got, want string) bool {
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// validBind accepts the app's binding value: 16 to 64 base64url chars.
func validBind(b string) bool {
	if len(b) < 16 || len(b) > 64 {
		return false
	}
	return !strings.ContainsFunc(b, func(c rune) bool {
		return !(c == '-' || c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9')
	})
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

// userMessage is err's message for the login page, without its class.
func userMessage(err error) string {
	msg := err.Error()
	for _, class := range []error{api.ErrUnauthorized, api.ErrUnavailable} {
		msg, _ = strings.CutSuffix(msg, ": "+class.Error())
	}
	return msg
}
