// Package fault classifies errors by kind, so that each boundary (HTTP status,
// bus ack or dead-letter, CLI exit code) maps a domain error in one function
// without importing every service's sentinels.
package fault

import (
	"errors"
	"fmt"
)

// Kind is a class of failure. A Kind is itself an error, so
// errors.Is(err, fault.NotFound) asks for the class.
type Kind string

// The kinds of failure.
const (
	Invalid      Kind = "invalid"      // the request can never succeed as sent
	NotFound     Kind = "not_found"    // the thing named does not exist
	Conflict     Kind = "conflict"     // the state forbids it now (illegal transition, stale version)
	Unauthorized Kind = "unauthorized" // no or bad credentials
	Forbidden    Kind = "forbidden"    // credentials lack a permission
	TooLarge     Kind = "too_large"    // the input is over a size limit
	RateLimited  Kind = "rate_limited" // too many requests
	Unavailable  Kind = "unavailable"  // a dependency is down; retry later
	Internal     Kind = "internal"     // a bug or an unclassified failure
)

func (k Kind) Error() string { return string(k) }

// Error is a classified error with a stable machine-readable code and
// optional details (such as the offending field).
type Error struct {
	Kind    Kind
	Code    string
	Message string
	Details map[string]any
	Err     error // wrapped cause, if any
}

func (e *Error) Error() string {
	if e.Err != nil && e.Message == "" {
		return e.Err.Error()
	}
	return e.Message
}

// Unwrap exposes the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, kind) true for the error's kind, and two sentinels
// with the same code equal.
func (e *Error) Is(target error) bool {
	switch t := target.(type) {
	case Kind:
		return t == e.Kind
	case *Error:
		return t == e || (t.Code != "" && t.Code == e.Code && t.Kind == e.Kind && t.Details == nil && t.Message == e.Message)
	}
	return false
}

// New returns a sentinel of the given kind and code.
func New(kind Kind, code, message string) *Error {
	return &Error{Kind: kind, Code: code, Message: message}
}

// Wrap returns a new error of the sentinel's kind and code, with its own
// message, that still matches the sentinel with errors.Is.
func Wrap(sentinel *Error, format string, args ...any) *Error {
	return &Error{Kind: sentinel.Kind, Code: sentinel.Code, Message: fmt.Sprintf(format, args...), Err: sentinel}
}

// Field returns an Invalid error naming the offending input field.
func Field(field, format string, args ...any) *Error {
	msg := fmt.Sprintf(format, args...)
	return &Error{Kind: Invalid, Code: "invalid_field", Message: field + ": " + msg,
		Details: map[string]any{"field": field, "problem": msg}}
}

// KindOf returns the kind of err: the first classified error in its chain,
// or Internal.
func KindOf(err error) Kind {
	var fe *Error
	if errors.As(err, &fe) {
		return fe.Kind
	}
	var k Kind
	if errors.As(err, &k) {
		return k
	}
	return Internal
}

// CodeOf returns the code of err's first classified error, or its kind.
func CodeOf(err error) string {
	var fe *Error
	if errors.As(err, &fe) && fe.Code != "" {
		return fe.Code
	}
	return string(KindOf(err))
}

// DetailsOf returns the details of err's first classified error with details.
func DetailsOf(err error) map[string]any {
	for err != nil {
		if fe, ok := err.(*Error); ok && fe.Details != nil {
			return fe.Details
		}
		err = errors.Unwrap(err)
	}
	return nil
}
