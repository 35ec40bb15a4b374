package servicekit

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// JSONErrors wraps h so that every error answer is JSON. net/http answers
// in plain text: ServeMux's 404 and 405, and every http.Error. Those
// answers become the error body of the services' APIs
// (services/contracts/httpjson):
//
//	{"error": {"code": "method_not_allowed", "message": "POST is not allowed on /v1/batches; allowed: GET, HEAD"}}
//
// with the status and headers (Allow) kept. Answers that are already JSON,
// and successes of any type, pass through untouched. The API and admin
// servers of a service use it; answers net/http's server gives before a
// handler runs (a malformed request line, headers over the limit) stay
// plain text.
func JSONErrors(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		jw := &jsonErrorWriter{ResponseWriter: w, req: r}
		defer jw.finish()
		h.ServeHTTP(jw, r)
	})
}

// maxErrorText bounds the plain-text message kept for a JSON error body.
const maxErrorText = 1 << 10

// jsonErrorWriter holds back a plain-text error answer (status >= 400
// with Content-Type text/plain, as http.Error sets it) and writes it as a
// JSON error body in finish. It is used by one handler goroutine.
type jsonErrorWriter struct {
	http.ResponseWriter
	req         *http.Request
	wroteHeader bool
	status      int    // of the held-back error answer; 0 when there is none
	text        []byte // its message, at most maxErrorText bytes
}

func (w *jsonErrorWriter) WriteHeader(code int) {
	if w.wroteHeader {
		// net/http reports the superfluous call.
		w.ResponseWriter.WriteHeader(code)
		return
	}
	w.wroteHeader = true
	if code >= 400 && strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain") {
		w.status = code
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *jsonErrorWriter) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.status == 0 {
		return w.ResponseWriter.Write(b)
	}
	if room := maxErrorText - len(w.text); room > 0 {
		w.text = append(w.text, b[:min(len(b), room)]...)
	}
	return len(b), nil
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *jsonErrorWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// finish writes the held-back error answer as JSON.
func (w *jsonErrorWriter) finish() {
	if w.status == 0 {
		return
	}
	msg := strings.TrimSpace(string(w.text))
	switch {
	case w.status == http.StatusNotFound && msg == "404 page not found":
		msg = fmt.Sprintf("no endpoint %s %s", w.req.Method, w.req.URL.Path)
	case w.status == http.StatusMethodNotAllowed:
		msg = fmt.Sprintf("%s is not allowed on %s; allowed: %s", w.req.Method, w.req.URL.Path, w.Header().Get("Allow"))
	case msg == "":
		msg = http.StatusText(w.status)
	}
	body, _ := json.Marshal(errorBody{Error: errorDetail{Code: errorCode(w.status), Message: msg}})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Del("Content-Length")
	w.ResponseWriter.WriteHeader(w.status)
	_, _ = w.ResponseWriter.Write(append(body, '\n'))
}

// errorBody is the services' error body (httpjson.ErrorBody, which
// servicekit cannot import: the services build on servicekit).
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// errorCode returns the error code of status: httpjson's codes where it
// has one, else the status text in snake case ("too_many_requests").
func errorCode(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "invalid_request"
	case http.StatusNotFound:
		return "not_found"
	case http.StatusMethodNotAllowed:
		return "method_not_allowed"
	case http.StatusRequestEntityTooLarge:
		return "request_too_large"
	case http.StatusUnsupportedMediaType:
		return "unsupported_media_type"
	case http.StatusInternalServerError:
		return "internal_error"
	}
	text := http.StatusText(status)
	if text == "" {
		return fmt.Sprintf("http_%d", status)
	}
	return strings.ToLower(strings.NewReplacer(" ", "_", "-", "_", "'", "").Replace(text))
}
