package cli

import (
	"encoding/base64"
	"testing"
	"time"
)

// TestNeedsRefresh: an ID token is renewed when 30 s, or a tenth of its
// lifetime when that is shorter, are left; unreadable tokens are renewed.
func TestNeedsRefresh(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	jwt := func(claims string) string {
		return "eyJhbGciOiJSUzI1NiJ9." + base64.RawURLEncoding.EncodeToString([]byte(claims)) + ".c2ln"
	}
	for _, tc := range []struct {
		name, token string
		want        bool
	}{
		{"hour left", jwt(`{"iat":999000,"exp":1003600}`), false},
		{"31 s of an hour left", jwt(`{"iat":997000,"exp":1000031}`), false},
		{"29 s of an hour left", jwt(`{"iat":997000,"exp":1000029}`), true},
		{"expired", jwt(`{"iat":990000,"exp":999999}`), true},
		{"2 s of 60 s left", jwt(`{"iat":999942,"exp":1000002}`), true},
		{"7 s of 60 s left", jwt(`{"iat":999947,"exp":1000007}`), false},
		{"no iat, 31 s left", jwt(`{"exp":1000031}`), false},
		{"no exp", jwt(`{"iat":999000}`), true},
		{"not a JWT", "hst_abc.def", true},
		{"bad base64", "a.!!.c", true},
	} {
		if got := needsRefresh(tc.token, now); got != tc.want {
			t.Errorf("%s: needsRefresh = %v, want %v", tc.name, got, tc.want)
		}
	}
}
