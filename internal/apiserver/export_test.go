package apiserver

import "time"

// SetAuthTimer makes s tell spent how long authentication and
// authorization take in each request, read on the clock now.
func SetAuthTimer(s *Server, now func() time.Duration, spent func(time.Duration)) {
	s.authTimer = &authTimer{now: now, spent: spent}
}

// SetMetricsTimer makes s tell spent how long its request metrics take in
// each request (both ends), read on the clock now.
func SetMetricsTimer(s *Server, now func() time.Duration, spent func(time.Duration)) {
	s.metricsTimer = &authTimer{now: now, spent: spent}
}
