package pki

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/storage"
)

// StoreCAKey is the reserved store key of the CA with the etcd backend. It
// starts with "/_", which no kind's plural does, so no API path reaches it.
const StoreCAKey = "/_system/pki/ca"

// storedCA is the value under StoreCAKey.
type storedCA struct {
	Certificate string `json:"certificate"`
	Key         string `json:"key"`
}

// KV is the part of a store the CA needs.
type KV interface {
	Get(ctx context.Context, key string) (storage.KV, error)
	Create(ctx context.Context, key string, value []byte) (int64, error)
}

// LoadOrCreateStoreCA returns the CA held in st, creating it if absent.
// Creation is a create-if-absent: of two API servers starting at once, one
// wins, and the other reads the winner's CA. created says whether this call
// made it.
func LoadOrCreateStoreCA(ctx context.Context, st KV, now time.Time) (ca *CA, created bool, err error) {
	ca, err = getStoreCA(ctx, st)
	if err == nil || !errors.Is(err, api.ErrNotFound) {
		return ca, false, err
	}
	fresh, err := NewCA(now)
	if err != nil {
		return nil, false, err
	}
	keyPEM, err := fresh.KeyPEM()
	if err != nil {
		return nil, false, err
	}
	val, err := json.Marshal(storedCA{Certificate: string(fresh.CertPEM), Key: string(keyPEM)})
	if err != nil {
		return nil, false, err
	}
	if _, err := st.Create(ctx, StoreCAKey, val); err != nil {
		if errors.Is(err, api.ErrAlreadyExists) {
			ca, err = getStoreCA(ctx, st) // another API server was first
			return ca, false, err
		}
		return nil, false, fmt.Errorf("store CA: %w", err)
	}
	return fresh, true, nil
}

func getStoreCA(ctx context.Context, st KV) (*CA, error) {
	kv, err := st.Get(ctx, StoreCAKey)
	if err != nil {
		return nil, fmt.Errorf("read CA from the store: %w", err)
	}
	var v storedCA
	if err := json.Unmarshal(kv.Value, &v); err != nil {
		return nil, fmt.Errorf("CA in the store (%s): %v: %w", StoreCAKey, err, api.ErrInvalid)
	}
	ca, err := LoadCA([]byte(v.Certificate), []byte(v.Key))
	if err != nil {
		return nil, fmt.Errorf("CA in the store (%s): %w", StoreCAKey, err)
	}
	return ca, nil
}

// File names in a PKI directory.
const (
	CACertFile = "ca.crt"
	CAKeyFile  = "ca.key"
)

// LoadOrCreateFileCA returns the CA in dir (ca.crt, ca.key), creating both
// (0600, dir 0700) if neither exists. One file without the other is an
// error, not a reason to make a new CA: nodes trust the old one.
func LoadOrCreateFileCA(dir string, now time.Time) (ca *CA, created bool, err error) {
	certPath, keyPath := filepath.Join(dir, CACertFile), filepath.Join(dir, CAKeyFile)
	certPEM, cerr := os.ReadFile(certPath)
	keyPEM, kerr := os.ReadFile(keyPath)
	switch {
	case cerr == nil && kerr == nil:
		ca, err := LoadCA(certPEM, keyPEM)
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", dir, err)
		}
		return ca, false, nil
	case !os.IsNotExist(cerr) || !os.IsNotExist(kerr):
		return nil, false, fmt.Errorf("CA in %s: need both %s and %s: %v / %v", dir, CACertFile, CAKeyFile, cerr, kerr)
	}
	fresh, err := NewCA(now)
	if err != nil {
		return nil, false, err
	}
	if keyPEM, err = fresh.KeyPEM(); err != nil {
		return nil, false, err
	}
	// The key first: a crash between the two leaves a key without a
	// certificate, which the next start reports instead of using.
	if err := WriteFile(keyPath, keyPEM); err != nil {
		return nil, false, err
	}
	if err := WriteFile(certPath, fresh.CertPEM); err != nil {
		return nil, false, err
	}
	return fresh, true, nil
}

// WriteFile writes data to path (0600, its directory 0700) through a
// temporary file and a rename, so a reader never sees half a file.
func WriteFile(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
