package agent

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/humstack/humstack/api"
)

// TestNodeCredentialKeys: the join token and CA keys are checked like
// every other key, each bad one named.
func TestNodeCredentialKeys(t *testing.T) {
	token := "0123456789ab.0123456789abcdef0123456789abcdef"
	fp := "sha256:" + strings.Repeat("ab", 32)
	for _, c := range []struct {
		name, yaml string
		want       []string
	}{
		{"malformed", "joinToken: abc\napiServerCAFingerprint: sha256:zz\npkiDirPath: ''\n", []string{
			`joinToken: malformed: want <id>.<secret> as printed by humcli node join-token`,
			`apiServerCAFingerprint: "sha256:zz": want sha256:<64 hex digits> as printed by the apiserver`,
			`pkiDirPath: must not be empty`,
		}},
		{"token twice", "joinToken: " + token + "\njoinTokenFile: /x\napiServerCAFingerprint: " + fp + "\n", []string{
			`joinToken: give joinToken or joinTokenFile, not both`,
		}},
		{"misspelt", "joinTokn: " + token + "\n", []string{
			`joinTokn: unknown field (did you mean "joinToken"?)`,
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := parseConfig([]byte(c.yaml), testHost)
			var ie *api.InvalidError
			if !errors.As(err, &ie) {
				t.Fatalf("error %v, want an InvalidError", err)
			}
			var got []string
			for _, f := range ie.Fields {
				got = append(got, f.Error())
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("fields:\n%q\nwant:\n%q", got, c.want)
			}
		})
	}
}

// TestJoinTokenAlone: the seed's config plus one line, joinToken, is a
// valid config that speaks HTTPS (the CA comes from the token's cluster
// info at the join), like one with the CA pin.
func TestJoinTokenAlone(t *testing.T) {
	seed, err := os.ReadFile("testdata/seed-config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	token := "0123456789ab.0123456789abcdef0123456789abcdef"
	for _, extra := range []string{"joinToken: " + token, "joinToken: " + token + "\napiServerCAFingerprint: sha256:" + strings.Repeat("ab", 32)} {
		cfg, err := parseConfig(append(seed, []byte(extra+"\n")...), testHost)
		if err != nil {
			t.Fatalf("%s: %v", extra, err)
		}
		if cfg.JoinToken != token || !cfg.HTTPS() || cfg.APIServerURLs() != "https://localhost:8080" {
			t.Errorf("%s: token %q, https %v, servers %q", extra, cfg.JoinToken, cfg.HTTPS(), cfg.APIServerURLs())
		}
	}
}

func TestJoinTokenFile(t *testing.T) {
	fp := "sha256:" + strings.Repeat("ab", 32)
	good := writeTemp(t, "tok", "0123456789ab.0123456789abcdef0123456789abcdef\n")
	cfg, err := parseConfig([]byte("joinTokenFile: "+good+"\napiServerCAFingerprint: "+fp+"\npkiDirPath: /var/lib/humstack/pki\n"), testHost)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.JoinToken != "0123456789ab.0123456789abcdef0123456789abcdef" || !cfg.HTTPS() ||
		cfg.APIServerURLs() != "https://localhost:8080" {
		t.Errorf("got token %q, https %v, servers %q", cfg.JoinToken, cfg.HTTPS(), cfg.APIServerURLs())
	}
	for _, bad := range []string{writeTemp(t, "bad", "hello\n"), filepath.Join(t.TempDir(), "missing")} {
		_, err := parseConfig([]byte("joinTokenFile: "+bad+"\napiServerCAFingerprint: "+fp+"\n"), testHost)
		if err == nil || !strings.Contains(err.Error(), "joinTokenFile") {
			t.Errorf("%s: err = %v, want joinTokenFile named", bad, err)
		}
	}
	plain, err := parseConfig([]byte("nodeName: n1\npkiDirPath: "+t.TempDir()+"\n"), testHost)
	if err != nil {
		t.Fatal(err)
	}
	if plain.HTTPS() || plain.APIServerURLs() != "localhost:8080" {
		t.Errorf("no CA: https %v, servers %q; want plain HTTP as before", plain.HTTPS(), plain.APIServerURLs())
	}
}

func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
