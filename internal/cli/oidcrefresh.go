package cli

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/sys/unix"
)

// maxRefreshMargin is how long before its expiry an ID token is renewed at
// most; short-lived tokens are renewed when a tenth of their lifetime is
// left, so that a command never starts with a token about to expire and a
// token is not renewed on every command.
const maxRefreshMargin = 30 * time.Second

// oidcToken returns context c's ID token, first renewing it with the
// refresh token when it has expired or is about to, and writing the new
// tokens back to the contexts file at path. Several humcli runs at once
// renew once: the renewal holds a lock on the file and reads it again
// (a refresh token may be good for one use only).
func (a *app) oidcToken(ctx context.Context, path string, c *clusterCtx) (string, error) {
	if !needsRefresh(c.Token, time.Now()) {
		return c.Token, nil
	}
	unlock, err := lockFile(path + ".lock")
	if err != nil {
		return "", err
	}
	defer unlock()
	f, _, err := loadContexts()
	if err != nil {
		return "", err
	}
	cur := f.find(c.Name)
	if cur == nil || cur.OIDC == nil {
		return "", fmt.Errorf("context %q changed while humcli was renewing its ID token; run the command again", c.Name)
	}
	if !needsRefresh(cur.Token, time.Now()) {
		return cur.Token, nil // another humcli renewed it
	}
	idToken, refresh, err := refreshOIDC(ctx, cur.OIDC)
	if err != nil {
		return "", err
	}
	cur.Token = idToken
	if refresh != "" {
		cur.OIDC.RefreshToken = refresh
	}
	if err := f.save(path); err != nil {
		return "", err
	}
	return idToken, nil
}

// refreshOIDC trades oc's refresh token for a new ID token (and maybe a
// new refresh token). A refusal by the issuer (revoked, expired or used
// refresh token) is the one line "OIDC session expired".
func refreshOIDC(ctx context.Context, oc *oidcCtx) (idToken, refresh string, err error) {
	expired := fmt.Errorf("OIDC session expired: run humcli login --oidc-issuer %s --oidc-client-id %s again", oc.Issuer, oc.ClientID)
	if oc.RefreshToken == "" {
		return "", "", expired
	}
	s, err := newOIDCSession(ctx, oc)
	if err != nil {
		return "", "", fmt.Errorf("renew the OIDC ID token: %w", err)
	}
	tok, err := s.conf.TokenSource(s.ctx, &oauth2.Token{RefreshToken: oc.RefreshToken}).Token()
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.ErrorCode != "" {
		return "", "", expired
	}
	if err != nil {
		return "", "", fmt.Errorf("renew the OIDC ID token at %s: %s", oc.Issuer, oauthMessage(err))
	}
	idToken, _ = tok.Extra("id_token").(string)
	if idToken == "" {
		return "", "", fmt.Errorf("renew the OIDC ID token: %s answered without an ID token", oc.Issuer)
	}
	return idToken, tok.RefreshToken, nil
}

// needsRefresh reports whether the ID token expires within its refresh
// margin. Its claims are read without checking the signature: the
// apiserver does that; this only decides when to ask for a new one.
func needsRefresh(idToken string, now time.Time) bool {
	parts := strings.Split(idToken, ".")
	if len(parts) != 3 {
		return true
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return true
	}
	var c struct {
		Exp, Iat int64
	}
	if json.Unmarshal(payload, &c) != nil || c.Exp == 0 {
		return true
	}
	exp := time.Unix(c.Exp, 0)
	margin := maxRefreshMargin
	if c.Iat > 0 && c.Iat < c.Exp {
		margin = min(margin, exp.Sub(time.Unix(c.Iat, 0))/10)
	}
	return !now.Add(margin).Before(exp)
}

// lockFile takes an exclusive lock on path (created 0600), released by
// the returned function.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock the contexts file: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock the contexts file: %w", err)
	}
	return func() {
		_ = unix.Flock(int(f.Fd()), unix.LOCK_UN)
		f.Close()
	}, nil
}
