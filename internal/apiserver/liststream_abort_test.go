package apiserver

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/storage"
)

// failingRange fails the Range calls of VMs from the failAt-th on (1:
// the first), as a store that breaks in the middle of a long list.
type failingRange struct {
	storage.Store
	failAt int64
	calls  atomic.Int64
}

var errBroken = errors.New("disk on fire")

func (f *failingRange) Range(ctx context.Context, prefix string, opts storage.RangeOptions, fn func(storage.KV) error) (int64, string, error) {
	if strings.HasPrefix(prefix, "/virtualmachines/") && f.calls.Add(1) >= f.failAt {
		return 0, "", errBroken
	}
	return f.Store.Range(ctx, prefix, opts, fn)
}

// TestListFailureAfterFirstByte: a store failure in the middle of a
// streamed list breaks the response, over HTTP/1.1 and HTTP/2, so the
// client never takes a shorter list for the whole; one before the first
// byte is an ordinary error answer.
func TestListFailureAfterFirstByte(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		name := map[bool]string{false: "HTTP/1.1", true: "HTTP/2"}[h2]
		t.Run(name, func(t *testing.T) {
			st := openTestBolt(t)
			fr := &failingRange{Store: st, failAt: 2} // the second chunk of 500
			seedStore(t, st, api.VirtualMachineKind, 1200, seededVM)
			s := New(fr, Options{Log: slog.New(slog.DiscardHandler)})
			t.Cleanup(s.Close)
			srv := httptest.NewUnstartedServer(s.Handler())
			srv.EnableHTTP2 = h2
			srv.StartTLS()
			t.Cleanup(srv.Close)
			hc := srv.Client()
			url := srv.URL + "/api/v0/groups/g/namespaces/ns/virtualmachines"
			resp, err := hc.Get(url)
			if err != nil {
				t.Fatal(err)
			}
			if (resp.ProtoMajor == 2) != h2 {
				t.Fatalf("served over %s", resp.Proto)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || err == nil {
				t.Fatalf("list failing in its second chunk: status %d, %d bytes read, error %v; want 200 and a broken body",
					resp.StatusCode, len(body), err)
			}
			if len(body) < listBuffer || strings.HasSuffix(string(body), "}\n") {
				t.Fatalf("%d bytes before the break, ending %q", len(body), body[max(0, len(body)-20):])
			}
			// Failing at the first chunk: nothing was sent, a 500 says so.
			fr.calls.Store(0)
			fr.failAt = 1
			resp, err = hc.Get(url)
			if err != nil {
				t.Fatal(err)
			}
			body, err = io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusInternalServerError || err != nil || !strings.Contains(string(body), `"code":500`) {
				t.Fatalf("list failing at once: %d %s (%v)", resp.StatusCode, body, err)
			}
		})
	}
}
