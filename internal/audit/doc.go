// Package audit writes the API server's audit log: one JSON line per write
// (POST, PUT, PATCH, DELETE), per console session (a line when it starts and
// one when it ends, with its duration and bytes) and per denied request
// (401, 403, and a 404 that authorization produced to hide an object), so an
// operator can answer "who did what, to what, from where, and was it let
// through". docs/audit.md documents the format; Event is its one definition.
//
// The log never holds up a request for long: lines go through a bounded
// buffer to one writer goroutine. When the buffer is full (the disk is slower
// than the API) or a write fails (the disk is full), the line is counted as
// lost, the loss is logged (rate-limited), and the next line that can be
// written is preceded by an "audit.lost" line saying how many went missing,
// so a gap in the log is visible in the log itself.
//
// The API server's middleware opens a Request per HTTP request (Begin),
// tells it who the caller turned out to be (SetIdentity), lets authorization
// mark a denial (Deny, e.g. a 404 that hides an object), and ends it with the
// response's status (End), which writes the line when the request is one of
// the audited classes. Console handlers call StartConsole once the relay is
// up and End on the returned session when it closes.
package audit
