package storage

import (
	"context"
	"fmt"
	"hash"
	"io"
	"net/http"
	neturl "net/url"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/controller"
	"github.com/humstack/humstack/internal/host/qcow2"
)

// job is one background transfer: a download, an image fetch or a copy.
type job struct {
	source string // what it makes the file from; a change restarts it
	cancel context.CancelFunc
	done   chan struct{} // closed when the goroutine has cleaned up

	state      atomic.Value // string: Queued, Downloading, Copying
	downloaded atomic.Int64
	total      atomic.Int64
	// Set before done is closed.
	err      error
	sum      string // the result's sha256, when the work computes it
	finished time.Time
	// reported: its failure was reported once (under Driver.mu).
	reported bool
}

// jobView is what one reconcile reports of a job.
type jobView struct {
	// State is Queued, Downloading or Copying while the job runs, Error
	// after a failure (until the retry), and "" once it succeeded.
	State       string
	Err         error
	Done, Total int64
	Sum         string
	Requeue     time.Duration
	// Started: the job was started by this call; Failed: this is the
	// first report of its failure (each is one event).
	Started, Failed bool
}

// runJob reports, and if needed starts, the background job k that makes a
// file from source. A finished job is reported once and forgotten; a failed
// one is reported as Error until d.retry has passed, then started again.
func (d *Driver) runJob(k, source string, work func(context.Context, *job) error) jobView {
	d.mu.Lock()
	defer d.mu.Unlock()
	j := d.jobs[k]
	if j != nil && j.source != source { // the source changed: start over
		j.cancel()
		j = nil
	}
	if j != nil {
		select {
		case <-j.done:
			if j.err == nil {
				delete(d.jobs, k)
				return jobView{Sum: j.sum}
			}
			// A failure is reported at least once, however late it is seen.
			failed := !j.reported
			j.reported = true
			if wait := d.retry - time.Since(j.finished); wait > 0 || failed {
				return jobView{State: StateError, Err: j.err, Requeue: max(wait, time.Millisecond), Failed: failed}
			}
			j = nil // retry
		default:
		}
	}
	started := j == nil
	if started {
		j = d.start(source, work)
		d.jobs[k] = j
	}
	return jobView{State: j.state.Load().(string), Done: j.downloaded.Load(), Total: j.total.Load(), Requeue: PollInterval, Started: started}
}

// download reports (and if needed starts) the background download of bs
// into path: Queued or Downloading with progress while it runs, Error with
// the reason when it failed (retried after d.retry), and Copying for the
// moment between the end of the job and the next Apply finding the file.
func (d *Driver) download(bs *api.BlockStorage, path string, limit int64) controller.Result {
	url := bs.Spec.From.HTTP.URL
	who := &api.BlockStorage{Meta: api.Meta{APIType: api.BlockStorageKind.APIType, ID: bs.Meta.ID,
		Group: bs.Meta.Group, Namespace: bs.Meta.Namespace, UID: bs.Meta.UID}} // for the job's event
	v := d.runJob(key(bs.GetMeta()), url, func(ctx context.Context, j *job) error {
		err := d.fetch(ctx, j, url, path, limit)
		if err == nil {
			d.events.Event(who, api.EventNormal, "Downloaded", "downloaded %s", redacted(url))
		}
		return err
	})
	report(bs, v, "downloading "+url)
	d.downloadEvents(bs, v, url)
	return controller.Result{RequeueAfter: v.Requeue}
}

// downloadEvents records a download's start and its failure (the error
// names the URL and the HTTP status), each once per attempt; the job
// records its end (docs/events.md).
func (d *Driver) downloadEvents(bs *api.BlockStorage, v jobView, rawURL string) {
	switch {
	case v.Started:
		d.events.Event(bs, api.EventNormal, "Downloading", "downloading %s", redacted(rawURL))
	case v.Failed:
		d.events.Event(bs, api.EventWarning, "DownloadFailed", "%v", v.Err)
	}
}

// redacted is rawURL without its password, if it has one.
func redacted(rawURL string) string {
	if u, err := neturl.Parse(rawURL); err == nil {
		return u.Redacted()
	}
	return rawURL
}

// report writes a job's view into bs's status; running is the message of
// the Downloading state.
func report(bs *api.BlockStorage, v jobView, running string) {
	msg := ""
	switch v.State {
	case "":
		setState(bs, StateCopying, "transfer complete")
		return
	case StateError:
		setState(bs, StateError, v.Err.Error())
		return
	case StateQueued:
		msg = "waiting for a transfer slot (parallelLimit)"
	case StateDownloading:
		msg = running
	case StateCopying:
		msg = "converting and growing the downloaded image"
	}
	setState(bs, v.State, msg)
	bs.Status.Downloaded, bs.Status.Total = v.Done, v.Total
}

// start runs work in the background once a transfer slot is free. Its
// context is not the reconcile's: the job outlives one Apply, and Remove
// (or a changed source) cancels it.
func (d *Driver) start(source string, work func(context.Context, *job) error) *job {
	ctx, cancel := context.WithCancel(context.Background())
	j := &job{source: source, cancel: cancel, done: make(chan struct{})}
	j.state.Store(StateQueued)
	go func() {
		defer close(j.done)
		defer cancel()
		select {
		case d.sem <- struct{}{}:
			j.err = work(ctx, j)
			<-d.sem
		case <-ctx.Done():
			j.err = ctx.Err()
		}
		j.finished = time.Now()
	}()
	return j
}

// fetch downloads url beside path, checks the image, converts it to
// qcow2, grows it to limit and renames it to path. On any failure nothing
// is left on disk.
func (d *Driver) fetch(ctx context.Context, j *job, url, path string, limit int64) error {
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
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("bad url %q: %w", url, err)
	}
	if err := get(ctx, j, req, tmp, nil); err != nil {
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

// get streams the response to req into file tmp, counting progress in j
// and, when h is set, hashing what it writes.
func get(ctx context.Context, j *job, req *http.Request, tmp string, h hash.Hash) error {
	return getWith(ctx, j, http.DefaultClient, req, tmp, h)
}

// getWith is get with the HTTP client hc (another node's listener over
// mutual TLS).
func getWith(ctx context.Context, j *job, hc *http.Client, req *http.Request, tmp string, h hash.Hash) error {
	url := req.URL.Redacted()
	resp, err := hc.Do(req)
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
	var w io.Writer = f
	if h != nil {
		w = io.MultiWriter(f, h)
	}
	n, err := io.Copy(w, &progressReader{r: resp.Body, n: &j.downloaded})
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
