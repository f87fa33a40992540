package apiserver_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/apiserver"
	"github.com/humstack/humstack/internal/auth"
)

// sseRecorder keeps the raw text of a watch stream.
type sseRecorder struct {
	mu   sync.Mutex
	text strings.Builder
	n    int // data lines
}

// watchRaw opens a watch as who and records its stream until the test ends.
func (e *rbacEnv) watchRaw(t *testing.T, who, path string) *sseRecorder {
	t.Helper()
	resp := e.openWatch(t, who, path)
	rec := &sseRecorder{}
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			rec.mu.Lock()
			rec.text.WriteString(sc.Text() + "\n")
			if strings.HasPrefix(sc.Text(), "data: ") {
				rec.n++
			}
			rec.mu.Unlock()
		}
	}()
	return rec
}

// wait returns the stream once it holds n events.
func (r *sseRecorder) wait(t *testing.T, n int) string {
	t.Helper()
	for start := time.Now(); time.Since(start) < 5*time.Second; time.Sleep(5 * time.Millisecond) {
		r.mu.Lock()
		got, text := r.n, r.text.String()
		r.mu.Unlock()
		if got >= n {
			return text
		}
	}
	t.Fatalf("watch: fewer than %d events", n)
	return ""
}

// storedToken reads the token object straight from the store.
func (e *rbacEnv) storedToken(id string) *api.Token {
	e.t.Helper()
	kv, err := e.store.Get(context.Background(), "/tokens/"+id)
	if err != nil {
		e.t.Fatal(err)
	}
	var tok api.Token
	if err := json.Unmarshal(kv.Value, &tok); err != nil {
		e.t.Fatal(err)
	}
	return &tok
}

// TestTokenHashNeverLeaves: a token's salt and hash are in the store and
// in no answer: get, list, watch (added, modified, deleted), the answers to
// create, update and delete. An update that sends the object back without
// them, or with another hash, keeps the stored one, and the token keeps
// working; the status of a token cannot be written at all.
func TestTokenHashNeverLeaves(t *testing.T) {
	e := newRBACEnv(t)
	watch := e.watchRaw(t, "admin", "/api/v0/tokens?watch=true")
	code, created := e.call("admin", "POST", "/api/v0/tokens",
		`{"meta":{"id":"ops-1"},"spec":{"owner":"ops","groups":["`+auth.GroupMasters+`"]}}`)
	if code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, created)
	}
	stored := e.storedToken("ops-1")
	if stored.Status.Salt == "" || stored.Status.Hash == "" {
		t.Fatalf("the store has no salt and hash: %+v", stored.Status)
	}
	var answer struct {
		Data struct{ Token api.Token } `json:"data"`
	}
	if err := json.Unmarshal([]byte(created), &answer); err != nil || answer.Data.Token.Status.Token == "" {
		t.Fatalf("create answer without status.token: %s %v", created, err)
	}
	e.tokens["ops"] = answer.Data.Token.Status.Token

	_, got := e.call("admin", "GET", "/api/v0/tokens/ops-1", "")
	_, list := e.call("admin", "GET", "/api/v0/tokens", "")
	// The client sends back what it read: no salt, no hash.
	code, updated := e.call("admin", "PUT", "/api/v0/tokens/ops-1", strings.Replace(dataOf(t, got, "token"),
		`"spec":{`, `"spec":{"description":"rotated soon",`, 1))
	if code != http.StatusOK {
		t.Fatalf("update: %d %s", code, updated)
	}
	if after := e.storedToken("ops-1"); after.Status != stored.Status || after.Spec.Description != "rotated soon" {
		t.Fatalf("update without salt and hash: stored status %+v, description %q; want %+v kept", after.Status, after.Spec.Description, stored.Status)
	}
	if code, msg := e.call("ops", "GET", "/api/v0/groups", ""); code != http.StatusOK {
		t.Fatalf("token after an update without its hash: %d %s", code, msg)
	}
	// Nor can a client set them: not by an update, not through /status.
	forged := `{"meta":{"id":"ops-1"},"spec":{"owner":"ops","groups":["` + auth.GroupMasters + `"]},` +
		`"status":{"salt":"00","hash":"` + strings.Repeat("ab", 32) + `"}}`
	if code, msg := e.call("admin", "PUT", "/api/v0/tokens/ops-1", forged); code != http.StatusOK {
		t.Fatalf("update with a forged hash: %d %s", code, msg)
	}
	if code, msg := e.call("admin", "PUT", "/api/v0/tokens/ops-1/status", forged); code != http.StatusNotFound {
		t.Errorf("PUT a token's status: %d %s, want 404 (no such route)", code, msg)
	}
	if after := e.storedToken("ops-1"); after.Status != stored.Status {
		t.Fatalf("a client set the stored hash: %+v, want %+v", after.Status, stored.Status)
	}
	if code, msg := e.call("ops", "GET", "/api/v0/groups", ""); code != http.StatusOK {
		t.Fatalf("token after a forged update: %d %s", code, msg)
	}
	_, deleted := e.call("admin", "DELETE", "/api/v0/tokens/ops-1", "")
	events := watch.wait(t, 4) // added, modified twice, deleted

	for _, tc := range []struct{ name, body string }{
		{"create answer", created}, {"get", got}, {"list", list}, {"update answer", updated},
		{"delete answer", deleted}, {"watch", events},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(tc.body, `"ops-1"`) {
				t.Fatalf("the answer does not show the token: %s", tc.body)
			}
			for _, leak := range []string{stored.Status.Hash, stored.Status.Salt, `"hash"`, `"salt"`} {
				if strings.Contains(tc.body, leak) {
					t.Errorf("shows %s: %s", leak, tc.body)
				}
			}
		})
	}
	if strings.Count(events, "event: ") != 4 || !strings.Contains(events, "event: DELETED") {
		t.Errorf("watch: want added, modified twice and deleted:\n%s", events)
	}
}

// dataOf returns data[key] of an answer, as JSON.
func dataOf(t *testing.T, body, key string) string {
	t.Helper()
	var env struct{ Data map[string]json.RawMessage }
	if err := json.Unmarshal([]byte(body), &env); err != nil || env.Data[key] == nil {
		t.Fatalf("no data.%s in %s: %v", key, body, err)
	}
	return string(env.Data[key])
}

// TestExportImportKeepsTokens: a dump is a backup of the store, so it
// holds the tokens' salted hashes (and nothing else of theirs), and the
// tokens work on the apiserver that runs on the imported store.
func TestExportImportKeepsTokens(t *testing.T) {
	oldDir, newDir := t.TempDir(), t.TempDir()
	s := startTLSWith(t, apiserver.Config{DataDir: oldDir, Authorization: apiserver.AuthorizationRBAC})
	admin := tokenClient(t, s, readToken(t, oldDir))
	tok := api.TokenKind.New().(*api.Token)
	tok.Meta.ID, tok.Spec.Owner, tok.Spec.Groups = "backup-1", "ops", []string{auth.GroupMasters}
	out, err := admin.Create(ctx(t), tok)
	if err != nil {
		t.Fatal(err)
	}
	bearer := out.(*api.Token).Status.Token
	s.stop()

	var dump bytes.Buffer
	log := slog.New(slog.DiscardHandler)
	if err := apiserver.Export(ctx(t), apiserver.Config{DataDir: oldDir, Log: log}, &dump); err != nil {
		t.Fatal(err)
	}
	_, secret, _ := strings.Cut(bearer, ".")
	if !strings.Contains(dump.String(), `"hash":"`) || strings.Contains(dump.String(), secret) {
		t.Fatalf("the dump should hold the tokens' hashes and no secret:\n%s", dump.String())
	}
	if err := apiserver.Import(ctx(t), apiserver.Config{DataDir: newDir, Log: log}, &dump); err != nil {
		t.Fatal(err)
	}
	s2 := startTLSWith(t, apiserver.Config{DataDir: newDir, Authorization: apiserver.AuthorizationRBAC})
	if _, err := os.Stat(filepath.Join(newDir, apiserver.BootstrapTokenFile)); !os.IsNotExist(err) {
		t.Errorf("the imported store has a bootstrap token, yet a new one was written: %v", err)
	}
	for name, b := range map[string]string{"bootstrap admin": readToken(t, oldDir), "created": bearer} {
		if _, _, err := tokenClient(t, s2, b).List(ctx(t), api.GroupKind, client.Scope{}); err != nil {
			t.Errorf("%s token after import: %v", name, err)
		}
	}
	wrong := bearer[:len(bearer)-2] + "AA"
	if wrong == bearer {
		wrong = bearer[:len(bearer)-2] + "BB"
	}
	if _, _, err := tokenClient(t, s2, wrong).List(ctx(t), api.GroupKind, client.Scope{}); !errors.Is(err, api.ErrUnauthorized) {
		t.Errorf("a wrong secret after import: err = %v, want 401", err)
	}
}

func readToken(t *testing.T, dataDir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, apiserver.BootstrapTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// tokenClient talks to s over HTTPS with bearer.
func tokenClient(t *testing.T, s *tlsServer, bearer string) *client.Client {
	t.Helper()
	tc, err := client.TrustCAFile(s.caFile())
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(s.url, client.WithTLS(tc), client.WithToken(bearer))
	if err != nil {
		t.Fatal(err)
	}
	return c
}
