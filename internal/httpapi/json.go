package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/firebreak-dev/firebreak/internal/fault"
)

// MaxBody is the default limit on request bodies (512 KB).
const MaxBody = 512 * 1024

// ErrorBody is the JSON shape of every error answer.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail names what went wrong.
type ErrorDetail struct {
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Details map[string]any `json:"details,omitempty"`
}

// WriteJSON answers with v as JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// StatusOf is the one mapping from an error's kind to an HTTP status.
func StatusOf(err error) int {
	switch fault.KindOf(err) {
	case fault.Invalid:
		return http.StatusBadRequest
	case fault.NotFound:
		return http.StatusNotFound
	case fault.Conflict:
		return http.StatusConflict
	case fault.Unauthorized:
		return http.StatusUnauthorized
	case fault.Forbidden:
		return http.StatusForbidden
	case fault.TooLarge:
		return http.StatusRequestEntityTooLarge
	case fault.RateLimited:
		return http.StatusTooManyRequests
	case fault.Unavailable:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// WriteError answers with err mapped to a status and a JSON error body.
// Unclassified errors are logged and answered with a generic 500 so that no
// internal detail (or secret) leaks to the caller.
func WriteError(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	status := StatusOf(err)
	body := ErrorBody{Error: ErrorDetail{Code: fault.CodeOf(err), Message: err.Error(), Details: fault.DetailsOf(err)}}
	if status >= 500 {
		logger.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		if status == http.StatusInternalServerError {
			body.Error = ErrorDetail{Code: "internal", Message: "internal error; the server log has the details"}
		}
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="firebreak"`)
	}
	if status == http.StatusForbidden {
		handlerForbidden(r, body.Error.Code)
	}
	WriteJSON(w, status, body)
}

// ReadBody reads a request body of at most limit bytes.
func ReadBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, &fault.Error{Kind: fault.TooLarge, Code: "body_too_large",
				Message: fmt.Sprintf("request body is larger than %d bytes", limit), Details: map[string]any{"limit": limit}}
		}
		return nil, &fault.Error{Kind: fault.Invalid, Code: "bad_body", Message: "read request body: " + err.Error()}
	}
	return b, nil
}

// ReadJSON reads a request body of at most limit bytes and decodes it
// strictly into dst (ReadBody, then DecodeJSON).
func ReadJSON(w http.ResponseWriter, r *http.Request, limit int64, dst any) error {
	b, err := ReadBody(w, r, limit)
	if err != nil {
		return err
	}
	return DecodeJSON(b, dst)
}

// DecodeJSON decodes a JSON object strictly into dst: unknown fields, wrong
// types, trailing data and malformed JSON are Invalid errors that name the
// field or the byte offset.
func DecodeJSON(b []byte, dst any) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return &fault.Error{Kind: fault.Invalid, Code: "empty_body", Message: "request body is empty; a JSON object is required"}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return JSONError(err)
	}
	if dec.More() {
		return &fault.Error{Kind: fault.Invalid, Code: "malformed_json", Message: "request body has data after the JSON object"}
	}
	return nil
}

// JSONError turns an encoding/json error into a precise Invalid error.
func JSONError(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return &fault.Error{Kind: fault.Invalid, Code: "malformed_json",
			Message: fmt.Sprintf("malformed JSON at byte %d: %v", se.Offset, se), Details: map[string]any{"offset": se.Offset}}
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "(body)"
		}
		return fault.Field(field, "must be %s, got JSON %s", jsonKind(te.Type.Kind().String()), te.Value)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return &fault.Error{Kind: fault.Invalid, Code: "malformed_json", Message: "malformed JSON: unexpected end of input"}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return fault.Field(name, "unknown field")
	}
	return &fault.Error{Kind: fault.Invalid, Code: "malformed_json", Message: "malformed JSON: " + err.Error()}
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "an integer"
	case "float32", "float64":
		return "a number"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "an array"
	case "map", "struct":
		return "an object"
	}
	return "a " + goKind
}
