package intake

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/firebreak-dev/firebreak/internal/fault"
)

func TestDecodeAlert(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		body      string
		wantField string // "" = valid
		check     func(t *testing.T, a Alert)
	}{
		{name: "full trigger", body: `{"service":"checkout","dedup_key":"k1","summary":"down","severity":"critical","source":"web1","details":{"a":1},"event_action":"trigger"}`,
			check: func(t *testing.T, a Alert) {
				if a.DedupKey != "k1" || a.Severity != "critical" || string(a.Details) != `{"a":1}` {
					t.Fatalf("%+v", a)
				}
			}},
		{name: "defaults", body: `{"service":"checkout","summary":"down","severity":"info"}`,
			check: func(t *testing.T, a Alert) {
				if a.EventAction != "trigger" || a.DedupKey == "" {
					t.Fatalf("defaults not applied: %+v", a)
				}
			}},
		{name: "resolve needs only key", body: `{"service":"checkout","dedup_key":"k1","event_action":"resolve"}`},
		{name: "details null", body: `{"service":"s","summary":"x","severity":"info","details":null}`,
			check: func(t *testing.T, a Alert) {
				if a.Details != nil {
					t.Fatalf("null details kept: %s", a.Details)
				}
			}},
		{name: "missing service", body: `{"summary":"x","severity":"info"}`, wantField: "service"},
		{name: "bad service chars", body: `{"service":"a.b","summary":"x","severity":"info"}`, wantField: "service"},
		{name: "long service", body: `{"service":"` + strings.Repeat("a", 101) + `","summary":"x","severity":"info"}`, wantField: "service"},
		{name: "missing summary", body: `{"service":"s","severity":"info"}`, wantField: "summary"},
		{name: "missing severity", body: `{"service":"s","summary":"x"}`, wantField: "severity"},
		{name: "bad severity", body: `{"service":"s","summary":"x","severity":"high"}`, wantField: "severity"},
		{name: "bad action", body: `{"service":"s","summary":"x","severity":"info","event_action":"explode"}`, wantField: "event_action"},
		{name: "resolve without key", body: `{"service":"s","event_action":"resolve"}`, wantField: "dedup_key"},
		{name: "long key", body: `{"service":"s","summary":"x","severity":"info","dedup_key":"` + strings.Repeat("k", 256) + `"}`, wantField: "dedup_key"},
		{name: "long summary", body: `{"service":"s","severity":"info","summary":"` + strings.Repeat("x", 1025) + `"}`, wantField: "summary"},
		{name: "details not object", body: `{"service":"s","summary":"x","severity":"info","details":[1]}`, wantField: "details"},
		{name: "wrong type", body: `{"service":5,"summary":"x","severity":"info"}`, wantField: "service"},
		{name: "unknown field", body: `{"service":"s","summary":"x","severity":"info","colour":"red"}`, wantField: "colour"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, err := DecodeAlert([]byte(tt.body))
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if tt.check != nil {
					tt.check(t, a)
				}
				return
			}
			if !errors.Is(err, fault.Invalid) {
				t.Fatalf("want Invalid error naming %s, got %v", tt.wantField, err)
			}
			if got := fault.DetailsOf(err)["field"]; got != tt.wantField {
				t.Fatalf("error names field %v, want %s (%v)", got, tt.wantField, err)
			}
		})
	}
}

func TestDecodeAlertMalformed(t *testing.T) {
	t.Parallel()
	for _, body := range []string{``, `{`, `[]`, `{"service":"s"} {}`, `nul`} {
		_, err := DecodeAlert([]byte(body))
		if !errors.Is(err, fault.Invalid) {
			t.Errorf("DecodeAlert(%q) = %v, want Invalid", body, err)
		}
	}
}

// FuzzDecodeAlert: no input panics, and every accepted alert satisfies the
// invariants the incident service relies on.
func FuzzDecodeAlert(f *testing.F) {
	f.Add([]byte(`{"service":"checkout","dedup_key":"k1","summary":"down","severity":"critical","details":{"a":[1,2]}}`))
	f.Add([]byte(`{"service":"s","event_action":"resolve","dedup_key":"k"}`))
	f.Add([]byte(`{"service":"s","summary":"\u0000","severity":"info","details":null}`))
	f.Add([]byte(`{"service":"s","summary":"x","severity":"info","dedup_key":"   "}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		a, err := DecodeAlert(body)
		if err != nil {
			if fault.KindOf(err) != fault.Invalid {
				t.Fatalf("error of kind %s: %v", fault.KindOf(err), err)
			}
			return
		}
		if !ServiceName.MatchString(a.Service) || len(a.Service) > MaxServiceLen {
			t.Fatalf("bad service accepted: %q", a.Service)
		}
		if a.DedupKey == "" || len(a.DedupKey) > MaxDedupKeyLen || !utf8.ValidString(a.DedupKey) {
			t.Fatalf("bad dedup key accepted: %q", a.DedupKey)
		}
		switch a.EventAction {
		case "trigger":
			if a.Summary == "" || a.Severity == "" {
				t.Fatalf("trigger without summary/severity: %+v", a)
			}
		case "acknowledge", "resolve":
		default:
			t.Fatalf("bad action accepted: %q", a.EventAction)
		}
		if a.Details != nil {
			var m map[string]any
			if err := json.Unmarshal(a.Details, &m); err != nil {
				t.Fatalf("details not an object: %s", a.Details)
			}
		}
	})
}
