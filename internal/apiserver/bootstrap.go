package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/auth"
	"github.com/humstack/humstack/internal/registry"
	"github.com/humstack/humstack/internal/storage"
)

// The bootstrap admin token: at the first start with --authorization rbac,
// the token object "bootstrap-admin" (owner admin, group system:masters,
// which is cluster-admin without a binding) is created and its bearer
// token written to <data-dir>/admin.token, mode 0600. With etcd the object
// lives in the store like any other: the first apiserver creates it and
// writes the file on its machine; the others find it and log so.
const (
	BootstrapTokenID   = "bootstrap-admin"
	BootstrapTokenFile = "admin.token"
)

// TokenLookup reads token objects from store, for auth.TokenAuthenticator.
func TokenLookup(store storage.Store) auth.TokenLookup {
	return func(ctx context.Context, id string) (*api.Token, error) {
		kv, err := store.Get(ctx, objectKey(api.TokenKind, &api.Meta{ID: id}))
		if err != nil {
			return nil, err
		}
		var t api.Token
		if err := json.Unmarshal(kv.Value, &t); err != nil {
			return nil, fmt.Errorf("decode token %s: %w", id, err)
		}
		return &t, nil
	}
}

// bootstrapAdmin makes sure an admin can get in.
func bootstrapAdmin(ctx context.Context, store storage.Store, dataDir string, log *slog.Logger) error {
	path := filepath.Join(dataDir, BootstrapTokenFile)
	key := objectKey(api.TokenKind, &api.Meta{ID: BootstrapTokenID})
	if _, err := store.Get(ctx, key); err == nil {
		log.Info("bootstrap admin token exists", "token", BootstrapTokenID, "file", path)
		return nil
	} else if !errors.Is(err, api.ErrNotFound) {
		return fmt.Errorf("read bootstrap token: %w", err)
	}
	t := api.TokenKind.New().(*api.Token)
	t.Meta.ID = BootstrapTokenID
	t.Meta.UID, t.Meta.CreationTimestamp, t.Meta.Generation = newUID(), now(), 1
	t.Spec = api.TokenSpec{Owner: "admin", Groups: []string{auth.GroupMasters},
		Description: "written to " + BootstrapTokenFile + " at the first start; delete it once you have your own"}
	st := registry.For(api.TokenKind)
	bearer, err := st.(registry.SecretIssuer).IssueSecret(t)
	if err != nil {
		return err
	}
	if err := st.Validate(t).Err(); err != nil {
		return err
	}
	data, err := api.Encode(t)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	// The file first: a token in the store that nobody can read locks
	// everyone out; a file whose token was never stored is harmless.
	if err := os.WriteFile(path, []byte(bearer+"\n"), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := store.Create(ctx, key, data); err != nil {
		_ = os.Remove(path)
		if errors.Is(err, api.ErrAlreadyExists) { // another apiserver was first
			log.Info("bootstrap admin token exists", "token", BootstrapTokenID, "file", path)
			return nil
		}
		return fmt.Errorf("store bootstrap token: %w", err)
	}
	log.Warn("bootstrap admin token written: it is cluster-admin; keep the file safe", "file", path)
	return nil
}
