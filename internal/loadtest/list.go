package loadtest

import (
	"bytes"
	"context"
	"fmt"
	"time"
)

// Snapshot is the server's memory with a number of objects stored.
type Snapshot struct {
	Mem       Mem   // from /proc/<pid>/status
	DBFile    int64 // resident pages of the data dir's files (MappedRSS)
	HeapInuse int64 // go_memstats_heap_inuse_bytes, from /metrics
}

// TakeSnapshot reads the server's memory now.
func TakeSnapshot(ctx context.Context, s *Server) (Snapshot, error) {
	m, err := Memory(s.PID())
	if err != nil {
		return Snapshot{}, err
	}
	db, err := MappedRSS(s.PID(), s.DataDir)
	if err != nil {
		return Snapshot{}, err
	}
	h, err := s.Client.HeapInuse(ctx)
	if err != nil {
		return Snapshot{}, err
	}
	return Snapshot{Mem: m, DBFile: db, HeapInuse: h}, nil
}

// ListResult is what a series of lists of one namespace measured.
type ListResult struct {
	Lists int
	// Mean is a list's time from the request to the answer's last byte
	// (the client reads it into a buffer, decoding nothing meanwhile).
	Mean time.Duration
	// CPU is the server's CPU time per list.
	CPU time.Duration
	// HWMRise is the server's VmHWM after the lists minus its VmRSS
	// before them, the high-water mark having been reset to it.
	HWMRise int64
}

// MeasureList lists the namespace's VMs lists times, one after another;
// each answer must hold want VMs.
func MeasureList(ctx context.Context, s *Server, want, lists int) (ListResult, error) {
	pid := s.PID()
	if err := ResetHWM(pid); err != nil {
		return ListResult{}, err
	}
	before, err := Memory(pid)
	if err != nil {
		return ListResult{}, err
	}
	cpu0, err := CPUTime(pid)
	if err != nil {
		return ListResult{}, err
	}
	var buf bytes.Buffer
	var total time.Duration
	for range lists {
		t0 := time.Now()
		if err := s.Client.Read(ctx, vmsPath, &buf); err != nil {
			return ListResult{}, err
		}
		total += time.Since(t0)
		// Counted between the lists, out of their time; the server is
		// idle meanwhile.
		n, err := countItems(buf.Bytes())
		if err != nil {
			return ListResult{}, err
		}
		if n != want {
			return ListResult{}, fmt.Errorf("listed %d VMs, want %d", n, want)
		}
	}
	cpu1, err := CPUTime(pid)
	if err != nil {
		return ListResult{}, err
	}
	after, err := Memory(pid)
	if err != nil {
		return ListResult{}, err
	}
	return ListResult{Lists: lists, Mean: total / time.Duration(lists), CPU: (cpu1 - cpu0) / time.Duration(lists),
		HWMRise: after.HWM - before.RSS}, nil
}
