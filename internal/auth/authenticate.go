package auth

import (
	"errors"
	"net/http"
)

// Authenticator recognizes one kind of credential in a request.
//
//   - (id, true, nil): the credential is its kind and valid: the caller is id;
//   - (nil, false, nil): no credential of its kind: ask the next one;
//   - (nil, true, err): its kind of credential, but invalid or expired; err
//     wraps api.ErrUnauthorized (401) with one line saying why ("token
//     expired"), or is an internal failure (a store that cannot be read).
type Authenticator interface {
	Authenticate(r *http.Request) (*Identity, bool, error)
}

// Chain asks each authenticator in turn; the first that recognizes the
// request decides. A request none recognizes is Anonymous.
type Chain []Authenticator

// Authenticate implements Authenticator: it always recognizes the request,
// as Anonymous when no member does.
func (c Chain) Authenticate(r *http.Request) (*Identity, bool, error) {
	for _, a := range c {
		id, ok, err := a.Authenticate(r)
		if err != nil {
			return nil, true, err
		}
		if ok {
			if id == nil {
				return nil, true, errors.New("authenticator recognized a request without an identity")
			}
			return id, true, nil
		}
	}
	return Anonymous, true, nil
}

// Static is an Authenticator for tests and tools: it gives every request
// the identity Fn returns, or passes when Fn returns nil.
type Static func(r *http.Request) *Identity

// Authenticate implements Authenticator.
func (s Static) Authenticate(r *http.Request) (*Identity, bool, error) {
	if id := s(r); id != nil {
		return id, true, nil
	}
	return nil, false, nil
}
