package audit

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"gopkg.in/natefinch/lumberjack.v2"
)

// SinkConfig says where the audit log goes.
type SinkConfig struct {
	// Path is the log file; "-" is standard output; "" turns the log off.
	Path string
	// MaxSizeMB is the size at which the file is rotated (0: 100 MB).
	MaxSizeMB int
	// MaxBackups is how many rotated files are kept (0: all of them).
	MaxBackups int
}

// OpenSink opens the sink cfg names, or returns nil when the log is off.
// Files are created 0600 (the log names users and addresses) in a
// directory created 0700 if missing; rotated files are named
// PATH-without-extension-TIMESTAMP.extension beside it.
func OpenSink(cfg SinkConfig) (io.Writer, error) {
	switch {
	case cfg.Path == "":
		return nil, nil
	case cfg.Path == "-":
		return stdout{}, nil
	case cfg.MaxSizeMB < 0 || cfg.MaxBackups < 0:
		return nil, fmt.Errorf("--audit-log-max-size and --audit-log-max-backups must not be negative")
	}
	if err := os.MkdirAll(filepath.Dir(cfg.Path), 0o700); err != nil {
		return nil, fmt.Errorf("--audit-log: %w", err)
	}
	// Open once now, so a bad path fails at start, not at the first write.
	f, err := os.OpenFile(cfg.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("--audit-log: %w", err)
	}
	f.Close()
	return &lumberjack.Logger{Filename: cfg.Path, MaxSize: cfg.MaxSizeMB, MaxBackups: cfg.MaxBackups}, nil
}

// stdout writes to os.Stdout and does not close it.
type stdout struct{}

func (stdout) Write(b []byte) (int, error) { return os.Stdout.Write(b) }
