package storetest

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/services/incident"
)

// alertTests are the contract of the alert part of the store (AlertRecord,
// AlertTruncatedSet, AlertList, AlertStats); Run runs them too.
var alertTests = []struct {
	name string
	fn   func(t *testing.T, s incident.Store)
}{
	{"AlertRecordAndUpdate", testAlertRecordUpdate},
	{"AlertListFilterAndPaging", testAlertListPaging},
	{"AlertLimitCountsOverflow", testAlertLimit},
	{"AlertTruncatedAndEmptyStats", testAlertTruncated},
	{"AlertOnUnknownIncident", testAlertUnknownIncident},
	{"AlertRollback", testAlertRollback},
	{"AlertsPerIncident", testAlertsPerIncident},
}

func record(t *testing.T, s incident.Store, max int, as ...incident.Alert) []bool {
	t.Helper()
	ctx := t.Context()
	var kept []bool
	err := s.InTx(ctx, func(tx incident.Tx) error {
		kept = kept[:0]
		for _, a := range as {
			ok, err := tx.AlertRecord(ctx, a, max)
			if err != nil {
				return err
			}
			kept = append(kept, ok)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("record alerts: %v", err)
	}
	return kept
}

func listAlerts(t *testing.T, s incident.Store, f incident.AlertFilter) []incident.Alert {
	t.Helper()
	got, err := s.AlertList(t.Context(), f)
	if err != nil {
		t.Fatalf("AlertList(%+v): %v", f, err)
	}
	return got
}

func stats(t *testing.T, s incident.Store, id string) incident.AlertStats {
	t.Helper()
	st, err := s.AlertStats(t.Context(), id)
	if err != nil {
		t.Fatalf("AlertStats(%s): %v", id, err)
	}
	return st
}

func atOffset(d time.Duration) *time.Time { t := base.Add(d); return &t }

func simpleAlert(incidentID, key, status string, seen time.Duration) incident.Alert {
	return incident.Alert{IncidentID: incidentID, Key: key, Status: status, Summary: "alert " + key,
		Severity: "warning", Integration: "alertmanager", StartsAt: atOffset(-time.Minute),
		FirstSeenAt: base.Add(seen), LastSeenAt: base.Add(seen), Receipts: 1}
}

func jsonEqual(t *testing.T, a, b json.RawMessage) bool {
	t.Helper()
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("details %s: %v", a, err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("details %s: %v", b, err)
	}
	return reflect.DeepEqual(x, y)
}

func testAlertRecordUpdate(t *testing.T, s incident.Store) {
	inc := create(t, s, newIncident("inc-a", "checkout", "grp"))
	first := incident.Alert{
		IncidentID: inc.ID, Key: "fp1", Status: incident.AlertFiring, Summary: "disk full", Severity: "critical",
		Source: "db1:9100", Integration: "alertmanager",
		Labels:       map[string]string{"alertname": "DiskFull", "instance": "db1:9100"},
		Annotations:  map[string]string{"summary": "disk full"},
		Details:      json.RawMessage(`{"silenceURL": "http://am/silence", "values": {"A": 95}}`),
		GeneratorURL: "http://prom/graph?g0.expr=disk", StartsAt: atOffset(-time.Hour),
		FirstSeenAt: base, LastSeenAt: base, Receipts: 1,
	}
	if kept := record(t, s, 10, first); !kept[0] {
		t.Fatal("first alert not kept")
	}
	got := listAlerts(t, s, incident.AlertFilter{IncidentID: inc.ID, Limit: 10})
	if len(got) != 1 {
		t.Fatalf("alerts = %+v, want 1", got)
	}
	want := first
	want.Seq = got[0].Seq
	if !jsonEqual(t, got[0].Details, want.Details) {
		t.Errorf("details = %s, want %s", got[0].Details, want.Details)
	}
	got[0].Details, want.Details = nil, nil
	if !reflect.DeepEqual(got[0], want) {
		t.Errorf("stored alert\n got %+v\nwant %+v", got[0], want)
	}

	// A later receipt overwrites the content, keeps first_seen_at and (with
	// no start given) starts_at, and adds its receipts.
	second := first
	second.Status, second.EndsAt = incident.AlertResolved, atOffset(time.Minute)
	second.StartsAt, second.Labels, second.Details = nil, map[string]string{"alertname": "DiskFull"}, nil
	second.Annotations = nil
	second.FirstSeenAt, second.LastSeenAt, second.Receipts = base.Add(time.Minute), base.Add(2*time.Minute), 2
	if kept := record(t, s, 10, second); !kept[0] {
		t.Fatal("update not kept")
	}
	got = listAlerts(t, s, incident.AlertFilter{IncidentID: inc.ID})
	if len(got) != 1 {
		t.Fatalf("alerts after update = %+v, want 1", got)
	}
	want = second
	want.Seq, want.StartsAt, want.FirstSeenAt, want.Receipts = got[0].Seq, first.StartsAt, base, 3
	if !reflect.DeepEqual(got[0], want) {
		t.Errorf("updated alert\n got %+v\nwant %+v", got[0], want)
	}
	if st := stats(t, s, inc.ID); st != (incident.AlertStats{Resolved: 1}) {
		t.Errorf("stats = %+v, want 1 resolved", st)
	}

	// A receipt that names a start (the alert fired again) moves it.
	third := second
	third.Status, third.EndsAt, third.StartsAt, third.Receipts = incident.AlertFiring, nil, atOffset(5*time.Minute), 1
	record(t, s, 10, third)
	got = listAlerts(t, s, incident.AlertFilter{IncidentID: inc.ID})
	if got[0].StartsAt == nil || !got[0].StartsAt.Equal(*third.StartsAt) || got[0].EndsAt != nil || got[0].Receipts != 4 {
		t.Errorf("re-fired alert = %+v, want started at %v, no end, 4 receipts", got[0], *third.StartsAt)
	}
}

func testAlertListPaging(t *testing.T, s incident.Store) {
	inc := create(t, s, newIncident("inc-p", "checkout", "grp"))
	record(t, s, 10,
		simpleAlert(inc.ID, "fp-c", incident.AlertFiring, 0),
		simpleAlert(inc.ID, "fp-a", incident.AlertResolved, time.Second),
		simpleAlert(inc.ID, "fp-b", incident.AlertFiring, 2*time.Second),
	)
	keys := func(as []incident.Alert) []string {
		var out []string
		for _, a := range as {
			out = append(out, a.Key)
		}
		return out
	}
	all := listAlerts(t, s, incident.AlertFilter{IncidentID: inc.ID, Limit: 10})
	if got, want := keys(all), []string{"fp-c", "fp-a", "fp-b"}; !reflect.DeepEqual(got, want) {
		t.Errorf("all alerts = %v, want %v (first seen first)", got, want)
	}
	for _, tc := range []struct {
		status string
		want   []string
	}{{incident.AlertFiring, []string{"fp-c", "fp-b"}}, {incident.AlertResolved, []string{"fp-a"}}, {"", []string{"fp-c", "fp-a", "fp-b"}}} {
		got := keys(listAlerts(t, s, incident.AlertFilter{IncidentID: inc.ID, Status: tc.status, Limit: 10}))
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("status %q: %v, want %v", tc.status, got, tc.want)
		}
	}
	page1 := listAlerts(t, s, incident.AlertFilter{IncidentID: inc.ID, Limit: 2})
	if got := keys(page1); !reflect.DeepEqual(got, []string{"fp-c", "fp-a"}) {
		t.Fatalf("page 1 = %v", got)
	}
	page2 := listAlerts(t, s, incident.AlertFilter{IncidentID: inc.ID, Limit: 2, AfterSeq: page1[1].Seq})
	if got := keys(page2); !reflect.DeepEqual(got, []string{"fp-b"}) {
		t.Errorf("page 2 = %v, want [fp-b]", got)
	}
	firing := listAlerts(t, s, incident.AlertFilter{IncidentID: inc.ID, Status: incident.AlertFiring, Limit: 1, AfterSeq: page1[0].Seq})
	if got := keys(firing); !reflect.DeepEqual(got, []string{"fp-b"}) {
		t.Errorf("firing after fp-c = %v, want [fp-b]", got)
	}
	if st := stats(t, s, inc.ID); st != (incident.AlertStats{Firing: 2, Resolved: 1}) {
		t.Errorf("stats = %+v, want 2 firing, 1 resolved", st)
	}
}

func testAlertLimit(t *testing.T, s incident.Store) {
	inc := create(t, s, newIncident("inc-l", "checkout", "grp"))
	extra := simpleAlert(inc.ID, "fp-3", incident.AlertFiring, 0)
	extra.Receipts = 2
	kept := record(t, s, 2,
		simpleAlert(inc.ID, "fp-1", incident.AlertFiring, 0),
		simpleAlert(inc.ID, "fp-2", incident.AlertFiring, 0),
		extra,
		simpleAlert(inc.ID, "fp-1", incident.AlertResolved, time.Second), // known alerts still update
	)
	if want := []bool{true, true, false, true}; !reflect.DeepEqual(kept, want) {
		t.Errorf("kept = %v, want %v", kept, want)
	}
	record(t, s, 2, simpleAlert(inc.ID, "fp-4", incident.AlertFiring, 0))
	if n := len(listAlerts(t, s, incident.AlertFilter{IncidentID: inc.ID})); n != 2 {
		t.Errorf("%d alerts kept, want 2", n)
	}
	if st := stats(t, s, inc.ID); st != (incident.AlertStats{Firing: 1, Resolved: 1, Overflow: 3}) {
		t.Errorf("stats = %+v, want 1 firing, 1 resolved, overflow 3", st)
	}
}

func testAlertTruncated(t *testing.T, s incident.Store) {
	inc := create(t, s, newIncident("inc-t", "checkout", "grp"))
	if st := stats(t, s, inc.ID); st != (incident.AlertStats{}) {
		t.Errorf("stats of an incident without alerts = %+v, want zero", st)
	}
	if got := listAlerts(t, s, incident.AlertFilter{IncidentID: inc.ID}); len(got) != 0 {
		t.Errorf("alerts = %+v, want none", got)
	}
	ctx := t.Context()
	for _, n := range []int64{7, 3} {
		if err := s.InTx(ctx, func(tx incident.Tx) error { return tx.AlertTruncatedSet(ctx, inc.ID, n) }); err != nil {
			t.Fatal(err)
		}
		if st := stats(t, s, inc.ID); st.TruncatedAlerts != n {
			t.Errorf("truncated = %d, want %d (the latest)", st.TruncatedAlerts, n)
		}
	}
	record(t, s, 0, simpleAlert(inc.ID, "fp", incident.AlertFiring, 0)) // max 0: nothing kept
	if st := stats(t, s, inc.ID); st != (incident.AlertStats{Overflow: 1, TruncatedAlerts: 3}) {
		t.Errorf("stats = %+v, want overflow 1 and truncated 3 side by side", st)
	}
}

func testAlertUnknownIncident(t *testing.T, s incident.Store) {
	ctx := t.Context()
	for name, fn := range map[string]func(tx incident.Tx) error{
		"record": func(tx incident.Tx) error {
			_, err := tx.AlertRecord(ctx, simpleAlert("nope", "fp", incident.AlertFiring, 0), 10)
			return err
		},
		"overflow": func(tx incident.Tx) error {
			_, err := tx.AlertRecord(ctx, simpleAlert("nope", "fp", incident.AlertFiring, 0), 0)
			return err
		},
		"truncated": func(tx incident.Tx) error { return tx.AlertTruncatedSet(ctx, "nope", 1) },
	} {
		if err := s.InTx(ctx, fn); !errors.Is(err, incident.ErrNotFound) {
			t.Errorf("%s on unknown incident = %v, want ErrNotFound", name, err)
		}
	}
}

func testAlertRollback(t *testing.T, s incident.Store) {
	inc := create(t, s, newIncident("inc-r", "checkout", "grp"))
	ctx := t.Context()
	err := s.InTx(ctx, func(tx incident.Tx) error {
		if _, err := tx.AlertRecord(ctx, simpleAlert(inc.ID, "fp", incident.AlertFiring, 0), 10); err != nil {
			return err
		}
		if err := tx.AlertTruncatedSet(ctx, inc.ID, 4); err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("InTx = %v, want errBoom", err)
	}
	if got := listAlerts(t, s, incident.AlertFilter{IncidentID: inc.ID}); len(got) != 0 {
		t.Errorf("alerts after rollback = %+v, want none", got)
	}
	if st := stats(t, s, inc.ID); st != (incident.AlertStats{}) {
		t.Errorf("stats after rollback = %+v, want zero", st)
	}
}

func testAlertsPerIncident(t *testing.T, s incident.Store) {
	a := create(t, s, newIncident("inc-1", "checkout", "k1"))
	b := create(t, s, newIncident("inc-2", "checkout", "k2"))
	record(t, s, 1, simpleAlert(a.ID, "fp", incident.AlertFiring, 0), simpleAlert(b.ID, "fp", incident.AlertResolved, 0))
	for _, tc := range []struct {
		id     string
		status string
	}{{a.ID, incident.AlertFiring}, {b.ID, incident.AlertResolved}} {
		got := listAlerts(t, s, incident.AlertFilter{IncidentID: tc.id})
		if len(got) != 1 || got[0].Status != tc.status || got[0].IncidentID != tc.id {
			t.Errorf("alerts of %s = %+v, want one %s alert (the limit is per incident)", tc.id, got, tc.status)
		}
	}
}
