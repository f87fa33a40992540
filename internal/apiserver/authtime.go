package apiserver

import "time"

// authTimer, set by benchmarks only (export_test.go), times the
// authentication and authorization stages of each request inside the real
// handler chain, on a clock of the benchmark's choosing (the CPU time of
// the thread serving the request): BenchmarkCreateAuthShare. Nothing sets
// it outside tests, so in production each stage costs one nil check.
type authTimer struct {
	now   func() time.Duration
	spent func(time.Duration)
}

func (s *Server) authClock() time.Duration {
	if s.authTimer == nil {
		return 0
	}
	return s.authTimer.now()
}

func (s *Server) authSpent(start time.Duration) {
	if s.authTimer != nil {
		s.authTimer.spent(s.authTimer.now() - start)
	}
}
