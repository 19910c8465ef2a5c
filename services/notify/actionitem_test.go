package notify_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/services/notify"
)

// TestActionItemPageText: a page about an overdue action item says which
// item, of which incident, how overdue, and links its tracker, in the
// plain text (email, webhook summary) and the Teams card; an incident
// page reads as before.
func TestActionItemPageText(t *testing.T) {
	t.Parallel()
	p := events.PageRequested{IncidentID: "inc-9", Number: 9, Title: "Disk 95% full on db1", Severity: "SEV2", Service: "checkout",
		Target: events.PageTarget{Type: "user", ID: "bob"}, User: "bob",
		ContactMethod: &events.PageContact{Name: "mail", Type: "email", Address: "bob@example.com"},
		ActionItem: &events.PageActionItem{ID: "ai-1", Title: "Alert on\ndisk growth", Owner: "bob", Due: "2026-11-20", OverdueHours: 75,
			TrackerURL: "https://tracker.example.com/OPS-118"}}
	m := notify.Message{Page: p, URL: "https://firebreak.example.com/api/v1/incidents/inc-9"}
	if got, want := m.Subject(), "Overdue action item of INC-9: Alert on disk growth"; got != want {
		t.Fatalf("subject %q, want %q", got, want)
	}
	body := m.Body()
	for _, want := range []string{"Action item: Alert on disk growth (ai-1)", "Incident: INC-9 Disk 95% full on db1",
		"Due: 2026-11-20, overdue by 3 days", "Tracker: https://tracker.example.com/OPS-118", m.URL} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "Escalation") {
		t.Errorf("an action item page names an escalation:\n%s", body)
	}
	card, err := json.Marshal(notify.TeamsCard(m))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"INC-9: Disk 95% full on db1", "3 days", "https://tracker.example.com/OPS-118", "Open in tracker"} {
		if !strings.Contains(string(card), want) {
			t.Errorf("teams card lacks %q: %s", want, card)
		}
	}
	for hours, want := range map[int]string{0: "0 hours", 1: "1 hour", 23: "23 hours", 24: "1 day", 50: "2 days"} {
		if got := (events.PageActionItem{OverdueHours: hours}).Overdue(); got != want {
			t.Errorf("%d hours: %q, want %q", hours, got, want)
		}
	}
	p.ActionItem = nil
	inc := notify.Message{Page: p}
	if inc.Subject() != "[SEV2] INC-9 Disk 95% full on db1" || strings.Contains(inc.Body(), "Action item") {
		t.Fatalf("incident page: %q %q", inc.Subject(), inc.Body())
	}
}
