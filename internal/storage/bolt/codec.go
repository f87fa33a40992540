package bolt

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/humstack/humstack/internal/storage"
)

var errCorrupt = errors.New("corrupt record")

// record is a kv bucket value.
type record struct {
	createRev, modRev int64
	value             []byte
}

func encodeRecord(r record) []byte {
	buf := make([]byte, 0, 2*binary.MaxVarintLen64+len(r.value))
	buf = binary.AppendUvarint(buf, uint64(r.createRev))
	buf = binary.AppendUvarint(buf, uint64(r.modRev))
	return append(buf, r.value...)
}

// decodeRecord decodes b, copying the value out of it (bbolt's memory is
// valid only inside the transaction).
func decodeRecord(b []byte) (record, error) {
	r, err := viewRecord(b)
	r.value = append([]byte{}, r.value...)
	return r, err
}

// viewRecord decodes b; the value is b's memory.
func viewRecord(b []byte) (record, error) {
	r, n, err := recordHeader(b)
	if err != nil {
		return record{}, err
	}
	r.value = b[n:]
	return r, nil
}

// decodeRevisions decodes b's revisions only; the value is left out.
func decodeRevisions(b []byte) (record, error) {
	r, _, err := recordHeader(b)
	return r, err
}

// recordHeader decodes b's revisions and returns where the value starts.
func recordHeader(b []byte) (record, int, error) {
	createRev, n1 := binary.Uvarint(b)
	if n1 <= 0 {
		return record{}, 0, errCorrupt
	}
	modRev, n2 := binary.Uvarint(b[n1:])
	if n2 <= 0 {
		return record{}, 0, errCorrupt
	}
	return record{createRev: int64(createRev), modRev: int64(modRev)}, n1 + n2, nil
}

// encodeEvent encodes ev for the log bucket; the revision is the log key, so
// ev.KV.ModRevision is not stored.
func encodeEvent(ev storage.Event) []byte {
	kv := ev.KV
	buf := make([]byte, 0, 1+2*binary.MaxVarintLen64+len(kv.Key)+len(kv.Value))
	buf = append(buf, byte(ev.Type))
	buf = binary.AppendUvarint(buf, uint64(len(kv.Key)))
	buf = append(buf, kv.Key...)
	buf = binary.AppendUvarint(buf, uint64(kv.CreateRevision))
	return append(buf, kv.Value...)
}

// decodeEvent decodes the log entry b written at revision rev.
func decodeEvent(rev int64, b []byte) (storage.Event, error) {
	if len(b) < 1 {
		return storage.Event{}, errCorrupt
	}
	typ := storage.EventType(b[0])
	if typ != storage.EventPut && typ != storage.EventDelete {
		return storage.Event{}, errCorrupt
	}
	b = b[1:]
	keyLen, n := binary.Uvarint(b)
	if n <= 0 || keyLen > uint64(len(b)-n) {
		return storage.Event{}, errCorrupt
	}
	key := string(b[n : n+int(keyLen)])
	b = b[n+int(keyLen):]
	createRev, n := binary.Uvarint(b)
	if n <= 0 {
		return storage.Event{}, errCorrupt
	}
	kv := storage.KV{
		Key:            key,
		Value:          append([]byte{}, b[n:]...),
		CreateRevision: int64(createRev),
		ModRevision:    rev,
	}
	return storage.Event{Type: typ, KV: kv}, nil
}

// revKey is the log key of rev: big-endian, so byte order is revision order.
func revKey(rev int64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), uint64(rev))
}

// parseRev decodes a log key or meta counter.
func parseRev(b []byte) (int64, error) {
	if len(b) != 8 {
		return 0, fmt.Errorf("revision of %d bytes: %w", len(b), errCorrupt)
	}
	return int64(binary.BigEndian.Uint64(b)), nil
}
