package incident

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/events"
)

// FuzzAlertsOf: alert.received details come from outside (a generic
// alert's custom details, anything a NATS producer publishes); reading the
// alerts of an event never panics and always yields well-formed alerts.
func FuzzAlertsOf(f *testing.F) {
	for _, s := range []string{
		``, `{}`, `null`, `[]`, `{"mount":"/var"}`,
		`{"receiver":"r","groupKey":"g","truncatedAlerts":2,"alerts":[{"fingerprint":"a","status":"firing","labels":{"severity":"critical"},"startsAt":"2026-01-01T00:00:00Z","values":{"A":1}}]}`,
		`{"receiver":"r","groupKey":"g","alerts":[{"fingerprint":"a","status":"bogus","endsAt":"2026-01-01T00:00:00Z"}]}`,
		`{"receiver":"r","groupKey":"g","alerts":[{"fingerprint":""}]}`,
		`{"receiver":"r","groupKey":"g","alerts":[{"fingerprint":"a","labels":{"x":1}}]}`,
	} {
		f.Add(s, events.ActionTrigger)
	}
	now := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, details, action string) {
		a := events.AlertReceived{Service: "s", DedupKey: "k", EventAction: action, Summary: "sum",
			Severity: "warning", Details: json.RawMessage(details), Integration: "x"}
		as, truncated, grouped := alertsOf("inc", a, now)
		if len(as) == 0 || (!grouped && (len(as) != 1 || truncated != 0)) {
			t.Fatalf("alertsOf(%q) = %d alerts, truncated %d, grouped %v", details, len(as), truncated, grouped)
		}
		for _, al := range as {
			if al.IncidentID != "inc" || al.Key == "" || al.Receipts != 1 || len(al.Summary) > MaxTitleLen ||
				(al.Status != AlertFiring && al.Status != AlertResolved) || !al.FirstSeenAt.Equal(now) {
				t.Fatalf("alertsOf(%q): bad alert %+v", details, al)
			}
			if al.Details != nil {
				var m map[string]any
				if err := json.Unmarshal(al.Details, &m); err != nil || m == nil {
					t.Fatalf("alertsOf(%q): details %s not a JSON object", details, al.Details)
				}
			}
		}
	})
}
