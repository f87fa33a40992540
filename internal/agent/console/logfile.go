package console

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// logFile is serial.log in a VM directory, appended to and rotated to
// serial.log.1 before a write would take it past max bytes.
type logFile struct {
	dir  string
	max  int64
	f    *os.File
	size int64
}

func openLog(dir string, max int64) (*logFile, error) {
	f, err := os.OpenFile(filepath.Join(dir, LogFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &logFile{dir: dir, max: max, f: f, size: st.Size()}, nil
}

// Write appends p, rotating first when p would not fit. p is at most one
// read of the socket, far below max; a larger p keeps only its end.
func (l *logFile) Write(p []byte) error {
	if int64(len(p)) > l.max {
		p = p[int64(len(p))-l.max:]
	}
	if l.size > 0 && l.size+int64(len(p)) > l.max {
		if err := l.rotate(); err != nil {
			return err
		}
	}
	n, err := l.f.Write(p)
	l.size += int64(n)
	return err
}

func (l *logFile) rotate() error {
	cur := filepath.Join(l.dir, LogFile)
	if err := os.Rename(cur, filepath.Join(l.dir, OldLogFile)); err != nil {
		return err
	}
	l.f.Close()
	f, err := os.OpenFile(cur, os.O_CREATE|os.O_WRONLY|os.O_APPEND|os.O_TRUNC, 0o600)
	if err != nil {
		l.f = nil
		return err
	}
	l.f, l.size = f, 0
	return nil
}

func (l *logFile) Close() {
	if l != nil && l.f != nil {
		l.f.Close()
	}
}

// openLogs opens serial.log.1 and serial.log, oldest first, as one reader.
// Opening both before reading gives a consistent pair even if the relay
// rotates meanwhile: an open file keeps its content across the rename.
// fs.ErrNotExist means there is no log at all.
func openLogs(dir string) (io.ReadCloser, error) {
	var files []*os.File
	for _, name := range []string{OldLogFile, LogFile} {
		f, err := os.Open(filepath.Join(dir, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			closeAll(files)
			return nil, err
		}
		files = append(files, f)
	}
	if len(files) == 0 {
		return nil, fs.ErrNotExist
	}
	readers := make([]io.Reader, len(files))
	for i, f := range files {
		readers[i] = f
	}
	return multiReadCloser{io.MultiReader(readers...), files}, nil
}

type multiReadCloser struct {
	io.Reader
	files []*os.File
}

func (m multiReadCloser) Close() error { closeAll(m.files); return nil }

func closeAll(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}

// readTail returns up to n bytes of the end of the logs in dir, for a
// relay that starts on a VM with history (the agent restarted). It reads
// only the end of each file.
func readTail(dir string, n int) []byte {
	t := tail{max: n}
	for _, name := range []string{OldLogFile, LogFile} {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			continue
		}
		if st, err := f.Stat(); err == nil {
			off := max(st.Size()-int64(n), 0)
			b := make([]byte, st.Size()-off)
			k, _ := f.ReadAt(b, off)
			t.Write(b[:k])
			t.cut = t.cut || off > 0
		}
		f.Close()
	}
	return t.Bytes()
}

// tail keeps the last max bytes written to it.
type tail struct {
	max int
	b   []byte // the last max bytes are at its end
	cut bool   // bytes were dropped from the front
}

func (t *tail) Write(p []byte) {
	t.b = append(t.b, p...)
	// Compact only past twice max, so Write is amortised O(len(p)).
	if len(t.b) > 2*t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
		t.cut = true
	}
}

// Bytes returns a copy of the last max bytes; if the front was cut, it
// starts after the first line break, so a session does not begin mid-line.
func (t *tail) Bytes() []byte {
	b, cut := t.b, t.cut
	if len(b) > t.max {
		b, cut = b[len(b)-t.max:], true
	}
	if cut {
		if i := bytes.IndexByte(b, '\n'); i >= 0 && i+1 < len(b) {
			b = b[i+1:]
		}
	}
	return bytes.Clone(b)
}
