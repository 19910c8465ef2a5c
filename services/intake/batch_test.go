package intake

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/firebreak-dev/firebreak/internal/fault"
)

func TestDecodeBatch(t *testing.T) {
	t.Parallel()
	many := func(n int) string {
		items := make([]string, n)
		for i := range items {
			items[i] = `{"service":"s","summary":"x","severity":"info"}`
		}
		return `{"alerts":[` + strings.Join(items, ",") + `]}`
	}
	tests := []struct {
		name      string
		body      string
		wantN     int
		wantField string
		wantItems int
	}{
		{name: "two", body: `{"alerts":[{"service":"s","summary":"x","severity":"info"},{"service":"s","dedup_key":"k","event_action":"resolve"}]}`, wantN: 2},
		{name: "at the limit", body: many(MaxBatchAlerts), wantN: MaxBatchAlerts},
		{name: "over the limit", body: many(MaxBatchAlerts + 1), wantField: "alerts"},
		{name: "missing", body: `{}`, wantField: "alerts"},
		{name: "empty", body: `{"alerts":[]}`, wantField: "alerts"},
		{name: "unknown field", body: `{"alerts":[],"x":1}`, wantField: "x"},
		{name: "every bad item named", body: `{"alerts":[{"service":"s","summary":"x","severity":"info"},{"service":"s","summary":"x"},{"service":"a.b","summary":"x","severity":"info"}]}`,
			wantField: "alerts[1].severity", wantItems: 2},
		{name: "item not an object", body: `{"alerts":[5]}`, wantField: "alerts[0]", wantItems: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			as, err := DecodeBatch([]byte(tt.body))
			if tt.wantField == "" {
				if err != nil || len(as) != tt.wantN {
					t.Fatalf("got %d alerts, %v", len(as), err)
				}
				return
			}
			if !errors.Is(err, fault.Invalid) {
				t.Fatalf("want Invalid, got %v", err)
			}
			d := fault.DetailsOf(err)
			if got := fmt.Sprint(d["field"]); got != tt.wantField {
				t.Fatalf("field %q, want %q (%v)", got, tt.wantField, err)
			}
			if tt.wantItems > 0 {
				if items, _ := d["errors"].([]ItemError); len(items) != tt.wantItems {
					t.Fatalf("item errors %v, want %d", d["errors"], tt.wantItems)
				}
			}
		})
	}
}

// FuzzDecodeBatch: no input panics; an accepted batch holds 1 to
// MaxBatchAlerts alerts, each valid on its own.
func FuzzDecodeBatch(f *testing.F) {
	f.Add([]byte(`{"alerts":[{"service":"s","summary":"x","severity":"info"}]}`))
	f.Add([]byte(`{"alerts":[{"service":"s","event_action":"resolve","dedup_key":"k"},{"service":"s"}]}`))
	f.Add([]byte(`{"alerts":[null,1,"x",[]]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		as, err := DecodeBatch(body)
		if err != nil {
			if fault.KindOf(err) != fault.Invalid {
				t.Fatalf("error of kind %s: %v", fault.KindOf(err), err)
			}
			return
		}
		if len(as) == 0 || len(as) > MaxBatchAlerts {
			t.Fatalf("%d alerts accepted", len(as))
		}
		for i, a := range as {
			if !ServiceName.MatchString(a.Service) || a.DedupKey == "" {
				t.Fatalf("alert %d invalid: %+v", i, a)
			}
		}
	})
}
