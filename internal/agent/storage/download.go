package storage

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/controller"
	"github.com/humstack/humstack/internal/host/qcow2"
)

// job is one disk's background download.
type job struct {
	url    string
	cancel context.CancelFunc
	done   chan struct{} // closed when the goroutine has cleaned up

	state      atomic.Value // string: Queued, Downloading, Copying
	downloaded atomic.Int64
	total      atomic.Int64
	// Set before done is closed.
	err      error
	finished time.Time
}

// download reports (and if needed starts) the background download of bs
// into path: Queued or Downloading with progress while it runs, Error with
// the reason when it failed (retried after d.retry), and nothing to say
// when it succeeded (the next Apply finds the file).
func (d *Driver) download(bs *api.BlockStorage, path string, limit int64) controller.Result {
	k := key(bs.GetMeta())
	url := bs.Spec.From.HTTP.URL
	d.mu.Lock()
	defer d.mu.Unlock()
	j := d.jobs[k]
	if j != nil && j.url != url { // the source changed: start over
		j.cancel()
		j = nil
	}
	if j != nil {
		select {
		case <-j.done:
			if j.err == nil {
				// Finished between existing() and here: report on the next pass.
				delete(d.jobs, k)
				setState(bs, StateCopying, "download complete")
				return controller.Result{RequeueAfter: PollInterval}
			}
			if wait := d.retry - time.Since(j.finished); wait > 0 {
				setState(bs, StateError, j.err.Error())
				return controller.Result{RequeueAfter: wait}
			}
			j = nil // retry
		default:
		}
	}
	if j == nil {
		j = d.start(k, url, path, limit)
		d.jobs[k] = j
	}
	state := j.state.Load().(string)
	msg := ""
	switch state {
	case StateQueued:
		msg = "waiting for a download slot (parallelLimit)"
	case StateDownloading:
		msg = "downloading " + url
	case StateCopying:
		msg = "converting and growing the downloaded image"
	}
	setState(bs, state, msg)
	bs.Status.Downloaded, bs.Status.Total = j.downloaded.Load(), j.total.Load()
	return controller.Result{RequeueAfter: PollInterval}
}

// start runs a download of url to path in the background. Its context is
// not the reconcile's: the download outlives one Apply, and Remove (or a
// changed source) cancels it.
func (d *Driver) start(k, url, path string, limit int64) *job {
	ctx, cancel := context.WithCancel(context.Background())
	j := &job{url: url, cancel: cancel, done: make(chan struct{})}
	j.state.Store(StateQueued)
	go func() {
		defer close(j.done)
		defer cancel()
		j.err = d.fetch(ctx, j, url, path, limit)
		j.finished = time.Now()
	}()
	return j
}

// fetch waits for a slot, downloads url beside path, checks the image,
// converts it to qcow2, grows it to limit and renames it to path. On any
// failure nothing is left on disk.
func (d *Driver) fetch(ctx context.Context, j *job, url, path string, limit int64) error {
	select {
	case d.sem <- struct{}{}:
		defer func() { <-d.sem }()
	case <-ctx.Done():
		return ctx.Err()
	}
	j.state.Store(StateDownloading)
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return err
	}
	removeTemps(path) // a crashed earlier attempt's leftovers
	tmp, err := qcow2.TempName(path)
	if err != nil {
		return err
	}
	defer os.Remove(tmp) // after the rename this is a no-op
	if err := d.get(ctx, j, url, tmp); err != nil {
		return err
	}
	j.state.Store(StateCopying)
	img, err := qcow2.Info(ctx, tmp)
	if err != nil {
		return fmt.Errorf("not a disk image: %w", err)
	}
	switch {
	case img.BackingFile != "":
		// Never follow a downloaded image's reference to a host file.
		return fmt.Errorf("the image at %s has a backing file (%s): not accepted", url, img.BackingFile)
	case img.Format != qcow2.FormatQCOW2 && img.Format != qcow2.FormatRaw:
		return fmt.Errorf("the image at %s is %s: only qcow2 and raw are accepted", url, img.Format)
	case img.Format == qcow2.FormatRaw && j.downloaded.Load()%512 != 0:
		// qemu-img rounds a raw file up to whole sectors; a disk has them.
		return fmt.Errorf("the content at %s is not a disk image (raw, %d bytes: not a multiple of 512)", url, j.downloaded.Load())
	case img.VirtualSize > limit:
		return fmt.Errorf("the image at %s is %d bytes, larger than spec.limitSize (%d bytes)", url, img.VirtualSize, limit)
	}
	disk := tmp
	if img.Format == qcow2.FormatRaw {
		conv, err := qcow2.TempName(path)
		if err != nil {
			return err
		}
		defer os.Remove(conv)
		if err := qcow2.Convert(ctx, tmp, conv, qcow2.FormatQCOW2); err != nil {
			return err
		}
		os.Remove(tmp) // free the space early
		disk = conv
	}
	if err := qcow2.Resize(ctx, disk, limit); err != nil {
		return err
	}
	return os.Rename(disk, path)
}

// get streams url into file tmp, counting progress in j.
func (d *Driver) get(ctx context.Context, j *job, url, tmp string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("bad url %q: %w", url, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("download: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("download %s: HTTP %s", url, resp.Status)
	}
	if resp.ContentLength > 0 {
		j.total.Store(resp.ContentLength)
	}
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	n, err := io.Copy(f, &progressReader{r: resp.Body, n: &j.downloaded})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("download %s: %w after %d bytes", url, err, n)
	}
	if resp.ContentLength > 0 && n != resp.ContentLength {
		return fmt.Errorf("download %s: truncated: %d of %d bytes", url, n, resp.ContentLength)
	}
	return nil
}

type progressReader struct {
	r io.Reader
	n *atomic.Int64
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.n.Add(int64(n))
	return n, err
}

// forget drops a finished job's record.
func (d *Driver) forget(k string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if j := d.jobs[k]; j != nil {
		select {
		case <-j.done:
			delete(d.jobs, k)
		default:
		}
	}
}
