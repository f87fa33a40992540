package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"sync"

	"github.com/humstack/humstack/api"
)

// writeObject answers with the humstack envelope around one object,
// appended by appendObj: {"code":200,"error":null,"data":{"<kind>":{...}}}.
// The answer is built in a pooled buffer: every read and write answers so.
func writeObject(w http.ResponseWriter, status int, k *api.Kind, appendObj func([]byte) ([]byte, error)) error {
	bp := replyBuffers.Get().(*[]byte)
	defer putReplyBuffer(bp)
	buf := append((*bp)[:0], `{"code":`...)
	buf = strconv.AppendInt(buf, int64(status), 10)
	buf = append(buf, `,"error":null,"data":{"`...)
	buf = append(buf, k.Name...)
	buf = append(buf, `":`...)
	buf, err := appendObj(buf)
	*bp = buf
	if err != nil {
		return err
	}
	buf = append(buf, "}}\n"...)
	*bp = buf
	writeRaw(w, status, buf)
	return nil
}

// replyBuffers holds answer buffers; net/http has copied an answer once
// Write returns, so its buffer can serve the next one.
var replyBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// maxPooledReply keeps a rare large answer's buffer out of the pool.
const maxPooledReply = 64 << 10

func putReplyBuffer(bp *[]byte) {
	if cap(*bp) <= maxPooledReply {
		replyBuffers.Put(bp)
	}
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
