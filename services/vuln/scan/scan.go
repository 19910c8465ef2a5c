// Package scan reads scanner reports — OSV-Scanner JSON and Trivy JSON —
// into findings: one per (component, advisory), the key the vuln service
// de-duplicates imports on.
//
// The parsers are strict about what they use (a finding without an id or a
// package, an unknown severity, an invalid CVSS vector is an error naming
// its place in the file, e.g. "Results[2].Vulnerabilities[5].PkgName") and
// lenient about the rest: both tools add fields between releases, and a
// report is not refused for a field this package does not read.
package scan

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/firebreak-dev/firebreak/internal/fault"
	"github.com/firebreak-dev/firebreak/services/vuln/cvss"
)

// Format names a report format.
type Format string

// The formats.
const (
	OSV   Format = "osv"
	Trivy Format = "trivy"
)

// ParseFormat reads a format name.
func ParseFormat(s string) (Format, error) {
	switch Format(strings.ToLower(s)) {
	case OSV:
		return OSV, nil
	case Trivy:
		return Trivy, nil
	}
	return "", fault.Field("format", "must be osv or trivy, got %q", s)
}

// Finding is one vulnerable component as a scanner reported it.
type Finding struct {
	Component        string
	Ecosystem        string
	AdvisoryID       string
	Identifiers      []string
	Title            string
	Description      string
	InstalledVersion string
	FixedVersion     string
	// Severity is from the CVSS vector's score when there is one, else the
	// scanner's label; None when the scanner does not know.
	Severity cvss.Severity
	Score    float64
	Vector   string
	// Targets are the files or images the finding was seen in.
	Targets []string
}

// ErrMalformed is the sentinel of every parse error: errors.Is matches it
// and fault.DetailsOf gives {"field": the place in the file} where known.
var ErrMalformed = fault.New(fault.Invalid, "malformed_report", "malformed scanner report")

func malformed(field, format string, args ...any) error {
	e := fault.Wrap(ErrMalformed, "%s: %s", field, fmt.Sprintf(format, args...))
	e.Details = map[string]any{"field": field}
	return e
}

// Parse reads a report of format f.
func Parse(f Format, b []byte) ([]Finding, error) {
	switch f {
	case OSV:
		return ParseOSV(b)
	case Trivy:
		return ParseTrivy(b)
	}
	return nil, fault.Field("format", "must be osv or trivy, got %q", f)
}

// decode decodes a whole document into v, naming the offset of a syntax
// error and the field of a type error.
func decode(b []byte, v any) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return fault.Wrap(ErrMalformed, "empty report")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			e := fault.Wrap(ErrMalformed, "malformed JSON at byte %d: %v", se.Offset, se)
			e.Details = map[string]any{"offset": se.Offset}
			return e
		case errors.As(err, &te):
			field := te.Field
			if field == "" {
				field = "(document)"
			}
			return malformed(field, "wrong JSON type %s", te.Value)
		case errors.Is(err, io.ErrUnexpectedEOF):
			return fault.Wrap(ErrMalformed, "malformed JSON: unexpected end of input")
		}
		return fault.Wrap(ErrMalformed, "malformed JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fault.Wrap(ErrMalformed, "data after the JSON document")
	}
	return nil
}

// score fills severity, score and vector from a CVSS vector; it keeps the
// vector with the higher score when f already has one.
func (f *Finding) score(vector, field string) error {
	if vector == "" {
		return nil
	}
	s, err := cvss.Parse(vector)
	if err != nil {
		return malformed(field, "%v", err)
	}
	if f.Vector == "" || s.Score > f.Score {
		f.Vector, f.Score, f.Severity = s.Vector, s.Score, s.Severity
	}
	return nil
}

// label reads a scanner's severity word.
func label(s string) (cvss.Severity, bool) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "CRITICAL":
		return cvss.Critical, true
	case "HIGH":
		return cvss.High, true
	case "MEDIUM", "MODERATE":
		return cvss.Medium, true
	case "LOW":
		return cvss.Low, true
	case "", "UNKNOWN", "NONE", "NEGLIGIBLE":
		return cvss.None, true
	}
	return "", false
}

// merger keeps one finding per (component, advisory), in first-seen order.
type merger struct {
	idx map[[2]string]int
	out []Finding
}

func (m *merger) add(f Finding) {
	if m.idx == nil {
		m.idx = map[[2]string]int{}
	}
	k := [2]string{f.Component, f.AdvisoryID}
	i, ok := m.idx[k]
	if !ok {
		m.idx[k] = len(m.out)
		m.out = append(m.out, f)
		return
	}
	g := &m.out[i]
	for _, t := range f.Targets {
		if !slices.Contains(g.Targets, t) {
			g.Targets = append(g.Targets, t)
		}
	}
	for _, id := range f.Identifiers {
		if !slices.Contains(g.Identifiers, id) {
			g.Identifiers = append(g.Identifiers, id)
		}
	}
	if f.Score > g.Score {
		g.Severity, g.Score, g.Vector = f.Severity, f.Score, f.Vector
	}
}

func addID(ids []string, id string) []string {
	if id == "" || slices.Contains(ids, id) {
		return ids
	}
	return append(ids, id)
}
