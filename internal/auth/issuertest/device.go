package issuertest

import (
	"crypto/rand"
	"encoding/json"
	"maps"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/coreos/go-oidc/v3/oidc/oidctest"
)

// deviceGrant is RFC 8628's grant type at the token endpoint.
const deviceGrant = "urn:ietf:params:oauth:grant-type:device_code"

// DeviceInterval is the polling interval (seconds) the issuer asks for:
// golang.org/x/oauth2 polls in whole seconds, 1 is the fastest.
const DeviceInterval = 1

// deviceCodeTTL is how long a device code waits for the user.
const deviceCodeTTL = 5 * time.Minute

// What the user has done with a device request.
const (
	devPending = iota
	devApproved
	devDenied
	devExpired
)

type deviceReq struct {
	deviceCode, userCode string
	expires              time.Time
	state                int
	claims               map[string]any // the user's, once approved
}

// deviceState is the issuer's device requests and refresh tokens.
type deviceState struct {
	mu       sync.Mutex
	byDevice map[string]*deviceReq
	byUser   map[string]*deviceReq
	// refresh maps a live refresh token to its user's claims; a refresh
	// answers with a new one and forgets the old (rotation).
	refresh   map[string]map[string]any
	codes     chan string // user codes of new requests, for WaitUserCode
	lastScope string

	pendingAnswers, refreshes atomic.Int64
}

func (d *deviceState) init() {
	d.byDevice, d.byUser = map[string]*deviceReq{}, map[string]*deviceReq{}
	d.refresh = map[string]map[string]any{}
	d.codes = make(chan string, 64)
}

// serveDeviceAuth is the device authorization endpoint (RFC 8628 3.1).
func (is *Issuer) serveDeviceAuth(w http.ResponseWriter, r *http.Request) {
	if !clientOK(w, r) {
		return
	}
	d := &is.dev
	req := &deviceReq{deviceCode: random(), userCode: userCode(), expires: time.Now().Add(deviceCodeTTL)}
	d.mu.Lock()
	d.byDevice[req.deviceCode], d.byUser[req.userCode] = req, req
	d.lastScope = r.PostForm.Get("scope")
	d.mu.Unlock()
	select {
	case d.codes <- req.userCode:
	default:
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"device_code": req.deviceCode, "user_code": req.userCode,
		"verification_uri":          is.URL + "/activate",
		"verification_uri_complete": is.URL + "/activate?user_code=" + req.userCode,
		"expires_in":                int(deviceCodeTTL.Seconds()), "interval": DeviceInterval,
	})
}

// serveToken is the token endpoint: the device code grant, the refresh
// token grant and the authorization code grant (code.go).
func (is *Issuer) serveToken(w http.ResponseWriter, r *http.Request) {
	if !clientOK(w, r) {
		return
	}
	switch r.PostForm.Get("grant_type") {
	case deviceGrant:
		is.deviceToken(w, r.PostForm.Get("device_code"))
	case "refresh_token":
		is.refreshToken(w, r.PostForm.Get("refresh_token"))
	case codeGrant:
		is.codeToken(w, r)
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type")
	}
}

func (is *Issuer) deviceToken(w http.ResponseWriter, code string) {
	d := &is.dev
	d.mu.Lock()
	req := d.byDevice[code]
	state := devPending
	if req != nil {
		state = req.state
		if state == devPending && time.Now().After(req.expires) {
			state = devExpired
		}
		if state != devPending {
			// A device code is answered with a result once.
			delete(d.byDevice, code)
			delete(d.byUser, req.userCode)
		}
	}
	d.mu.Unlock()
	switch {
	case req == nil:
		oauthError(w, http.StatusBadRequest, "invalid_grant")
	case state == devPending:
		d.pendingAnswers.Add(1)
		oauthError(w, http.StatusBadRequest, "authorization_pending")
	case state == devDenied:
		oauthError(w, http.StatusBadRequest, "access_denied")
	case state == devExpired:
		oauthError(w, http.StatusBadRequest, "expired_token")
	default:
		is.issue(w, req.claims)
	}
}

func (is *Issuer) refreshToken(w http.ResponseWriter, rt string) {
	d := &is.dev
	d.mu.Lock()
	claims, ok := d.refresh[rt]
	delete(d.refresh, rt)
	d.mu.Unlock()
	if !ok {
		oauthError(w, http.StatusBadRequest, "invalid_grant")
		return
	}
	d.refreshes.Add(1)
	is.issue(w, claims)
}

// issue answers with a fresh ID token for claims (the standard ones set
// anew) and a new refresh token.
func (is *Issuer) issue(w http.ResponseWriter, claims map[string]any) {
	ttl := is.IDTokenTTL
	if ttl <= 0 {
		ttl = time.Hour
	}
	c := maps.Clone(claims)
	now := time.Now()
	c["iss"], c["aud"], c["iat"], c["exp"] = is.URL, ClientID, now.Unix(), now.Add(ttl).Unix()
	b, err := json.Marshal(c)
	if err != nil {
		oauthError(w, http.StatusInternalServerError, "server_error")
		return
	}
	rt := random()
	is.dev.mu.Lock()
	is.dev.refresh[rt] = claims
	is.dev.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": random(), "token_type": "Bearer", "expires_in": int(ttl.Seconds()),
		"refresh_token": rt, "id_token": oidctest.SignIDToken(is.Key, KeyID, oidc.RS256, string(b)),
	})
}

// clientOK parses the form and checks the client id (a public client: in
// the form, or as the user of HTTP basic authentication).
func clientOK(w http.ResponseWriter, r *http.Request) bool {
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request")
		return false
	}
	id := r.PostForm.Get("client_id")
	if u, _, ok := r.BasicAuth(); ok {
		id = u
	}
	if id != ClientID {
		oauthError(w, http.StatusUnauthorized, "invalid_client")
		return false
	}
	return true
}

func oauthError(w http.ResponseWriter, code int, name string) {
	writeJSON(w, code, map[string]string{"error": name})
}

func random() string { return rand.Text() }

// userCode is 8 letters as XXXX-XXXX, as issuers show them.
func userCode() string {
	s := rand.Text()[:8]
	return s[:4] + "-" + s[4:]
}

// WaitUserCode waits for a device authorization request and returns its
// user code: what the user would read off humcli's output.
func (is *Issuer) WaitUserCode(t testing.TB) string {
	t.Helper()
	select {
	case c := <-is.dev.codes:
		return c
	case <-time.After(20 * time.Second):
		t.Fatal("no device authorization request")
		return ""
	}
}

// Approve is the user logging in at the verification URL and approving
// the request of userCode; the tokens then carry claims (sub, groups,
// ...: the issuer adds iss, aud, iat and exp).
func (is *Issuer) Approve(t testing.TB, userCode string, claims map[string]any) {
	t.Helper()
	is.answer(t, userCode, devApproved, claims)
}

// Deny is the user refusing the request of userCode.
func (is *Issuer) Deny(t testing.TB, userCode string) {
	t.Helper()
	is.answer(t, userCode, devDenied, nil)
}

// Expire makes the request of userCode time out unanswered.
func (is *Issuer) Expire(t testing.TB, userCode string) {
	t.Helper()
	is.answer(t, userCode, devExpired, nil)
}

func (is *Issuer) answer(t testing.TB, userCode string, state int, claims map[string]any) {
	t.Helper()
	d := &is.dev
	d.mu.Lock()
	defer d.mu.Unlock()
	req := d.byUser[strings.ToUpper(userCode)]
	if req == nil || req.state != devPending {
		t.Fatalf("no pending device request with user code %q", userCode)
	}
	req.state, req.claims = state, maps.Clone(claims)
}

// RevokeRefreshTokens forgets every refresh token (the user logged out, an
// admin ended the sessions, or they timed out).
func (is *Issuer) RevokeRefreshTokens() {
	is.dev.mu.Lock()
	defer is.dev.mu.Unlock()
	clear(is.dev.refresh)
}

// Refreshes is how many refresh token grants succeeded.
func (is *Issuer) Refreshes() int64 { return is.dev.refreshes.Load() }

// PendingAnswers is how many times a poll was answered authorization_pending.
func (is *Issuer) PendingAnswers() int64 { return is.dev.pendingAnswers.Load() }

// LastScope is the scope of the last device authorization request.
func (is *Issuer) LastScope() string {
	is.dev.mu.Lock()
	defer is.dev.mu.Unlock()
	return is.dev.lastScope
}
