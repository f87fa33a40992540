package apiserver

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/storage"
)

// A dump is JSON lines: a header, then one line per stored key in key
// order, the value as the stored JSON object:
//
//	{"humstackDump":1,"revision":1234,"keys":2}
//	{"key":"/groups/default","value":{"meta":{...},...}}
//	{"key":"/namespaces/default/default","value":{...}}
//
// Revisions are not carried over: the target store numbers its own, so
// agents must be restarted after an import (they list again).
type dumpHeader struct {
	Version  int   `json:"humstackDump"`
	Revision int64 `json:"revision"`
	Keys     int   `json:"keys"`
}

type dumpLine struct {
	Key   string          `json:"key"`
	Value json.RawMessage `json:"value"`
}

// Export writes every key of the store cfg names to w, as one snapshot.
// The bolt store must not be in use by a running apiserver (its file is
// locked).
func Export(ctx context.Context, cfg Config, w io.Writer) error {
	st, err := openDumpStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	kvs, rev, err := st.List(ctx, "")
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	if err := enc.Encode(dumpHeader{Version: 1, Revision: rev, Keys: len(kvs)}); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	for _, kv := range kvs {
		if !json.Valid(kv.Value) {
			return fmt.Errorf("export: key %q holds no JSON object", kv.Key)
		}
		if err := enc.Encode(dumpLine{Key: kv.Key, Value: kv.Value}); err != nil {
			return fmt.Errorf("export: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	cfg.Log.Info("exported", "keys", len(kvs), "revision", rev)
	return nil
}

// Import creates every key of a dump in the store cfg names, which must be
// empty: an import never overwrites. It reads the whole dump before
// writing, so a truncated dump changes nothing.
func Import(ctx context.Context, cfg Config, r io.Reader) error {
	lines, err := readDump(r)
	if err != nil {
		return err
	}
	st, err := openDumpStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	if have, _, err := st.List(ctx, ""); err != nil {
		return fmt.Errorf("import: %w", err)
	} else if len(have) > 0 {
		return fmt.Errorf("import: the target store already holds %d keys (first %q); import into an empty store", len(have), have[0].Key)
	}
	for _, l := range lines {
		if _, err := st.Create(ctx, l.Key, l.Value); err != nil {
			return fmt.Errorf("import: %w", err)
		}
	}
	rev, _ := st.Revision(ctx)
	cfg.Log.Info("imported", "keys", len(lines), "revision", rev)
	return nil
}

// openDumpStore is openStore with a hint for the common mistake: bbolt's
// file is locked by the apiserver still running on it.
func openDumpStore(ctx context.Context, cfg Config) (storage.Store, error) {
	st, err := openStore(ctx, cfg)
	if err != nil && (cfg.Store == "" || cfg.Store == "bolt") {
		return nil, fmt.Errorf("%w (stop the apiserver using --data-dir %s first)", err, cfg.DataDir)
	}
	return st, err
}

func readDump(r io.Reader) ([]dumpLine, error) {
	dec := json.NewDecoder(bufio.NewReader(r))
	var h dumpHeader
	if err := dec.Decode(&h); err != nil {
		return nil, fmt.Errorf("import: dump header: %w", err)
	}
	if h.Version != 1 {
		return nil, fmt.Errorf("import: not a humstack dump (humstackDump %d, want 1)", h.Version)
	}
	var lines []dumpLine
	for {
		var l dumpLine
		err := dec.Decode(&l)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("import: line %d: %w", len(lines)+2, err)
		}
		if l.Key == "" || len(l.Value) == 0 {
			return nil, fmt.Errorf("import: line %d: want key and value: %w", len(lines)+2, api.ErrInvalid)
		}
		lines = append(lines, l)
	}
	if len(lines) != h.Keys {
		return nil, fmt.Errorf("import: dump has %d keys, its header says %d (truncated?)", len(lines), h.Keys)
	}
	return lines, nil
}
