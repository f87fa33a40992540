package apiserver

import "time"

// SetAuthTimer makes s tell spent how long authentication and
// authorization take in each request, read on the clock now.
func SetAuthTimer(s *Server, now func() time.Duration, spent func(time.Duration)) {
	s.authTimer = &authTimer{now: now, spent: spent}
}
