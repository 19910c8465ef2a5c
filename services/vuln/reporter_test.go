package vuln_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/httpapi"
	"github.com/firebreak-dev/firebreak/services/vuln"
)

func reporterUpdates(envs []events.Envelope) []events.VulnReporterUpdate {
	var out []events.VulnReporterUpdate
	for _, e := range envs {
		if e.Type != events.TypeVulnReporterUpdateRequested {
			continue
		}
		var u events.VulnReporterUpdate
		if err := e.DecodeData(&u); err != nil {
			panic(err)
		}
		out = append(out, u)
	}
	return out
}

// TestReporterUpdates: a disclosure with a reporter address asks notify to
// write to the reporter at the statuses a reporter cares about, with the
// tracking id and status only; no other vulnerability does.
func TestReporterUpdates(t *testing.T) {
	t.Parallel()
	a := newAPI(t, nil)
	ctx := context.Background()
	var rec vuln.Receipt
	_ = json.Unmarshal(a.must(202, "POST", "/api/v1/disclosures", "", map[string]any{"title": "Auth bypass", "description": "steps…",
		"product": "web", "cvss_vector": vecHigh, "reporter_email": "eve@example.org", "reporter_name": "Eve"}), &rec)
	var anon vuln.Receipt
	_ = json.Unmarshal(a.must(202, "POST", "/api/v1/disclosures", "", map[string]any{"title": "Anonymous", "description": "steps…",
		"product": "web", "cvss_vector": vecHigh}), &anon)
	manual, err := a.svc.Create(ctx, vuln.NewVuln{Title: "Found by staff", Product: "web", Vector: vecHigh,
		Reporter: vuln.Reporter{Name: "Bob", Contact: "bob@example.org"}}, alice)
	if err != nil {
		t.Fatal(err)
	}
	a.newEvents()

	move := func(ref string, to vuln.Status, reason string) {
		t.Helper()
		if _, err := a.svc.Transition(ctx, ref, vuln.TransitionRequest{To: to, Reason: reason}, alice); err != nil {
			t.Fatalf("%s → %s: %v", ref, to, err)
		}
	}
	path := []vuln.Status{vuln.StatusAcknowledged, vuln.StatusTriaged, vuln.StatusRemediationPlanned, vuln.StatusFixInProgress,
		vuln.StatusVerifying, vuln.StatusReleased, vuln.StatusCommunicated, vuln.StatusClosed}
	for _, to := range path {
		move(rec.TrackingID, to, "INTERNAL-NOTE-"+string(to))
		move(anon.TrackingID, to, "")
		move(manual.ID, to, "")
	}
	got := reporterUpdates(a.newEvents())
	var statuses []string
	for _, u := range got {
		statuses = append(statuses, u.Status)
		if u.TrackingID != rec.TrackingID || u.ReporterEmail != "eve@example.org" || u.ReporterName != "Eve" || u.ChangedAt.IsZero() {
			t.Errorf("update %+v", u)
		}
	}
	if want := "acknowledged,triaged,released,communicated,closed"; strings.Join(statuses, ",") != want {
		t.Fatalf("reporter updates at %v, want %s", statuses, want)
	}
	for _, e := range a.events() {
		if e.Type == events.TypeVulnReporterUpdateRequested && (strings.Contains(string(e.Data), "INTERNAL-NOTE") ||
			strings.Contains(string(e.Data), "Auth bypass") || strings.Contains(string(e.Data), "steps")) {
			t.Fatalf("a reporter update carries what triage wrote: %s", e.Data)
		}
		if e.Type != events.TypeVulnReporterUpdateRequested && strings.Contains(string(e.Data), "eve@example.org") {
			t.Fatalf("%s carries the reporter's address: %s", e.Type, e.Data)
		}
	}

	// Rejected and duplicate are told too, without the reason.
	for _, c := range []struct {
		to   vuln.Status
		dupe string
	}{{vuln.StatusRejected, ""}, {vuln.StatusDuplicate, manual.ID}} {
		var r vuln.Receipt
		_ = json.Unmarshal(a.must(202, "POST", "/api/v1/disclosures", "", map[string]any{"title": "Again " + string(c.to),
			"description": "steps…", "product": "web", "reporter_email": "mal@example.org"}), &r)
		a.newEvents()
		if _, err := a.svc.Transition(ctx, r.TrackingID, vuln.TransitionRequest{To: c.to, Reason: "SECRET-REASON", DuplicateOf: c.dupe}, alice); err != nil {
			t.Fatal(err)
		}
		envs := a.newEvents()
		got := reporterUpdates(envs)
		if len(got) != 1 || got[0].Status != string(c.to) || got[0].ReporterEmail != "mal@example.org" {
			t.Fatalf("%s: reporter updates %+v", c.to, got)
		}
		for _, e := range envs {
			if e.Type == events.TypeVulnReporterUpdateRequested && strings.Contains(string(e.Data), "SECRET-REASON") {
				t.Fatalf("%s: the reason reached the reporter update: %s", c.to, e.Data)
			}
		}
	}

	// No public endpoint shows the reporter's address.
	for _, p := range []string{"/api/v1/advisories", "/api/v1/advisories.atom", "/advisories", "/.well-known/security.txt"} {
		if b := a.must(200, "GET", p, "", nil); strings.Contains(string(b), "@example.org") {
			t.Errorf("%s shows a reporter address: %s", p, b)
		}
	}
}

// TestNoticeSelfApproval: the author of a notice cannot approve it, even
// holding comms:approve (four-eyes rule); someone else can.
func TestNoticeSelfApproval(t *testing.T) {
	t.Parallel()
	a := newAPI(t, nil)
	ctx := context.Background()
	v, err := a.svc.Create(ctx, vuln.NewVuln{Title: "Public bug", Product: "web", Vector: vecHigh, Public: true}, alice)
	if err != nil {
		t.Fatal(err)
	}
	var n vuln.Notice
	_ = json.Unmarshal(a.must(201, "POST", "/api/v1/vulnerabilities/"+v.Key()+"/notices", "writer", map[string]any{}), &n)
	if n.DraftedBy != "Alice" {
		t.Fatalf("drafted by %q", n.DraftedBy)
	}
	// Alice holding comms:approve herself.
	_, err = a.svc.ApproveNotice(ctx, n.ID, events.Actor{Kind: events.ActorUser, ID: "alice", Name: "Alice", Channel: events.ChannelAPI})
	if !errors.Is(err, vuln.ErrSelfApproval) || !strings.Contains(err.Error(), "four-eyes") {
		t.Fatalf("self-approval: err = %v, want ErrSelfApproval", err)
	}
	if st := httpapi.StatusOf(err); st != 403 {
		t.Fatalf("self-approval maps to %d, want 403", st)
	}
	st, b := a.do("POST", "/api/v1/notices/"+n.ID+"/approve", "writer-approver", nil)
	if code, _ := errField(b); st != 403 || code != "self_approval" || !strings.Contains(string(b), "Alice drafted notice") {
		t.Fatalf("self-approval over HTTP: %d %s", st, b)
	}
	for _, e := range a.events() {
		if e.Type == events.TypeVulnNoticePublished {
			t.Fatal("a self-approved notice was published")
		}
	}
	var approved vuln.Notice
	_ = json.Unmarshal(a.must(200, "POST", "/api/v1/notices/"+n.ID+"/approve", "approver", nil), &approved)
	if approved.ApprovedBy != "Carol" || approved.DraftedBy != "Alice" {
		t.Fatalf("approved %+v", approved)
	}
	var pub []events.VulnNotice
	for _, e := range a.events() {
		if e.Type == events.TypeVulnNoticePublished {
			var d events.VulnNotice
			_ = e.DecodeData(&d)
			pub = append(pub, d)
		}
	}
	if len(pub) != 1 || pub[0].Product != "web" || pub[0].Service != "checkout" {
		t.Fatalf("notice_published %+v, want one with product web and service checkout", pub)
	}
}
