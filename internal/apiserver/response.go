package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/humstack/humstack/api"
)

// writeObject answers with the humstack envelope around one stored object:
// {"code":200,"error":null,"data":{"<kind>":{...}}}.
func writeObject(w http.ResponseWriter, status int, k *api.Kind, obj []byte) {
	buf := make([]byte, 0, len(obj)+64)
	buf = append(buf, `{"code":`...)
	buf = strconv.AppendInt(buf, int64(status), 10)
	buf = append(buf, `,"error":null,"data":{"`...)
	buf = append(buf, k.Name...)
	buf = append(buf, `":`...)
	buf = append(buf, obj...)
	buf = append(buf, "}}\n"...)
	writeRaw(w, status, buf)
}

func writeRaw(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// errorBody is the envelope of a failed request. reason lets clients tell
// apart classes that share a status (AlreadyExists and Conflict are both 409).
type errorBody struct {
	Code   int               `json:"code"`
	Error  string            `json:"error"`
	Reason string            `json:"reason"`
	Fields []api.FieldError  `json:"fields,omitempty"`
	Data   map[string]string `json:"data"`
}

// writeError is the one place errors become HTTP statuses. Internal errors
// are logged here, once, and answered without their details.
func writeError(ctx context.Context, w http.ResponseWriter, log *slog.Logger, err error) {
	status, reason := api.HTTPStatus(err)
	body := errorBody{Code: status, Error: err.Error(), Reason: reason}
	var inv *api.InvalidError
	if errors.As(err, &inv) {
		body.Fields = inv.Fields
	}
	if status == http.StatusInternalServerError {
		log.ErrorContext(ctx, "request failed", "err", err)
		body.Error = "internal error (see the apiserver log, request id " + requestID(ctx) + ")"
	}
	b, _ := json.Marshal(body)
	writeRaw(w, status, append(b, '\n'))
}
