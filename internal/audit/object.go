package audit

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/humstack/humstack/api"
)

// apiPrefix is where every API path starts.
const apiPrefix = "/api/v0/"

// consoleSubresources are the paths below a VM that open its console.
var consoleSubresources = map[string]bool{"ws": true, "serial": true, "serial/log": true}

// Describe reads the verb and the object of a request from its method and
// path, the way the API server's routes lay them out. It does not validate:
// a path no route serves still gets a best-effort description (unknown
// plurals leave apiType empty), since denied and malformed requests are
// audited too.
func Describe(r *http.Request) (string, Object) {
	obj, coll := objectOf(r.URL.EscapedPath())
	return verbOf(r, obj, coll), obj
}

// objectOf splits an escaped API path into its object, segment by segment
// as the routes do (an escaped "/" stays inside its segment); coll reports
// a collection path (no id).
func objectOf(path string) (obj Object, coll bool) {
	rest, ok := strings.CutPrefix(path, apiPrefix)
	if !ok {
		return Object{}, false
	}
	if len(rest) > maxPath {
		return Object{}, false // no route serves it; the clipped path says enough
	}
	seg := strings.Split(strings.TrimSuffix(rest, "/"), "/")
	for i, sg := range seg {
		if u, err := url.PathUnescape(sg); err == nil {
			seg[i] = u
		}
	}
	// groups/{g}/namespaces/{ns}/{plural}/{id}/{sub...}, shortened from
	// the right for wider scopes.
	if seg[0] == "groups" && len(seg) >= 3 {
		obj.Group, seg = seg[1], seg[2:]
		if seg[0] == "namespaces" && len(seg) >= 3 {
			obj.Namespace, seg = seg[1], seg[2:]
		}
	}
	if k, err := api.LookupKind(seg[0]); err == nil && seg[0] == k.Plural {
		obj.APIType = k.APIType
	}
	if len(seg) == 1 {
		return obj, true
	}
	obj.ID = seg[1]
	if len(seg) > 2 {
		obj.Subresource = strings.Join(seg[2:], "/")
	}
	return obj, false
}

// verbOf names what the request does, in the authorization's words.
func verbOf(r *http.Request, obj Object, coll bool) string {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		switch {
		case consoleSubresources[obj.Subresource]:
			return "console"
		case coll && isWatch(r):
			return "watch"
		case coll:
			return "list"
		}
		return "get"
	case http.MethodPost:
		return "create"
	case http.MethodPut:
		return "update"
	case http.MethodPatch:
		return "patch"
	case http.MethodDelete:
		return "delete"
	}
	return strings.ToLower(r.Method)
}

func isWatch(r *http.Request) bool {
	q := r.URL.Query().Get("watch")
	return q == "true" || q == "1"
}

// isWrite reports a method that changes state.
func isWrite(method string) bool {
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return true
	}
	return false
}
