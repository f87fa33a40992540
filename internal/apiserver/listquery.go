package apiserver

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/humstack/humstack/api"
)

// continueToken is what ?continue= carries, base64url-encoded JSON: the
// revision of the first page, the collection it lists and the last key of
// the previous page. Clients treat it as opaque.
type continueToken struct {
	Rev    int64  `json:"rev"`
	Prefix string `json:"prefix"`
	Key    string `json:"key"`
}

func encodeContinue(rev int64, prefix, key string) string {
	b, _ := json.Marshal(continueToken{Rev: rev, Prefix: prefix, Key: key})
	return base64.RawURLEncoding.EncodeToString(b)
}

// parseListQuery reads ?limit= and ?continue= of a list of the collection
// at prefix.
func parseListQuery(r *http.Request, prefix string) (listQuery, error) {
	var q listQuery
	v := r.URL.Query()
	if s, ok := v["limit"]; ok {
		n, err := strconv.Atoi(s[0])
		if err != nil || n < 1 || n > maxListLimit {
			return q, api.Invalid("limit", "%q is not a whole number from 1 to %d", s[0], maxListLimit)
		}
		q.limit = n
	}
	if s, ok := v["continue"]; ok {
		t, err := decodeContinue(s[0])
		if err != nil {
			return q, err
		}
		if t.Prefix != prefix {
			return q, api.Invalid("continue", "the token continues another list (%s), not this one", t.Prefix)
		}
		q.after, q.rev = t.Key, t.Rev
	}
	return q, nil
}

func decodeContinue(s string) (continueToken, error) {
	var t continueToken
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, &t)
	}
	if err != nil || t.Rev <= 0 || !strings.HasPrefix(t.Key, t.Prefix) || len(t.Key) == len(t.Prefix) {
		return t, api.Invalid("continue", "not a token this server gave (list again without it)")
	}
	return t, nil
}
