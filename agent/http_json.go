package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
)

// httpError is a failure with the status it maps to; handlers return it
// and route writes it as {"error": "..."}.
type httpError struct {
	status int
	msg    string
	// body, when set, is sent instead of {"error": msg}: a key command's
	// tally travels with its error.
	body any
}

func (e *httpError) Error() string { return e.msg }

func badRequest(format string, args ...any) *httpError {
	return &httpError{status: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) *httpError {
	return &httpError{status: http.StatusNotFound, msg: fmt.Sprintf(format, args...)}
}

// errorBody is every error reply.
type errorBody struct {
	Error string `json:"error"`
}

// writeJSON sends v with status. An encoding failure can only be a bug
// (every reply type encodes), so it is not reported to the client.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, errorBody{Error: msg})
}

// writeFailure sends err: an *httpError with its own status, anything
// else as a 400, since the agent's operations fail on what they were
// asked (a join that reaches no one, an event over the size limit).
func writeFailure(w http.ResponseWriter, err error) {
	var he *httpError
	if !errors.As(err, &he) {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if he.body != nil {
		writeJSON(w, he.status, he.body)
		return
	}
	writeError(w, he.status, he.msg)
}

// decodeJSON reads the request body, at most limit bytes, as one JSON
// object into v. Unknown fields, trailing data and an empty body when
// one is required are errors that name the problem.
func decodeJSON(w http.ResponseWriter, r *http.Request, limit int64, v any, required bool) error {
	body := http.MaxBytesReader(w, r.Body, limit)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		var syntax *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.Is(err, io.EOF):
			if !required {
				return nil
			}
			return badRequest("request body is empty; a JSON object is required")
		case errors.As(err, &tooBig):
			return &httpError{status: http.StatusRequestEntityTooLarge,
				msg: fmt.Sprintf("request body exceeds %d bytes", tooBig.Limit)}
		case errors.As(err, &syntax):
			return badRequest("request body is not valid JSON (at byte %d): %v", syntax.Offset, err)
		case errors.As(err, &typ):
			field := typ.Field
			if field == "" {
				return badRequest("request body must be a JSON object, not %s", typ.Value)
			}
			return badRequest("field %q must be %s, not %s", field, jsonTypeName(typ.Type.Kind().String()), typ.Value)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return badRequest("unknown field %s in request body", strings.TrimPrefix(err.Error(), "json: unknown field "))
		case errors.Is(err, io.ErrUnexpectedEOF):
			return badRequest("request body is truncated JSON")
		default:
			return badRequest("cannot read request body: %v", err)
		}
	}
	if dec.More() {
		return badRequest("request body has data after the JSON object")
	}
	var extra json.RawMessage
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return badRequest("request body has data after the JSON object")
	}
	return nil
}

// jsonTypeName names a Go kind the way a JSON user thinks of it.
func jsonTypeName(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "map", "struct":
		return "an object"
	case "slice", "array":
		return "an array"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64", "float32", "float64":
		return "a number"
	}
	return kind
}

// apiHandler is a route: it writes a reply, or returns an error that the
// router writes.
type apiHandler func(w http.ResponseWriter, r *http.Request) error

// methodRoutes dispatches one path on the method, with a JSON 405 that
// lists the allowed methods.
type methodRoutes struct {
	byMethod map[string]apiHandler
}

func (m *methodRoutes) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// No implicit HEAD: on a stream it would hold the connection open
	// with nothing to send.
	h, ok := m.byMethod[r.Method]
	if !ok {
		allowed := make([]string, 0, len(m.byMethod))
		for method := range m.byMethod {
			allowed = append(allowed, method)
		}
		slices.Sort(allowed)
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		writeError(w, http.StatusMethodNotAllowed,
			fmt.Sprintf("method %s not allowed on %s; use %s", r.Method, r.URL.Path, strings.Join(allowed, " or ")))
		return
	}
	if err := h(w, r); err != nil {
		writeFailure(w, err)
	}
}
