// Package storetest is the contract suite of the post-mortem store, run by
// the SQLite and the PostgreSQL adapter, and a realistic event sequence
// the projection tests share.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/timer"
	"github.com/firebreak-dev/firebreak/services/postmortem"
)

// Opener returns a fresh, migrated store.
type Opener func(t *testing.T) postmortem.Store

// Run runs the contract suite against the stores open returns.
func Run(t *testing.T, open Opener) {
	t.Run("Incidents", func(t *testing.T) { t.Parallel(); testIncidents(t, open(t)) })
	t.Run("Timeline", func(t *testing.T) { t.Parallel(); testTimeline(t, open(t)) })
	t.Run("TimelineJSON", func(t *testing.T) { t.Parallel(); testTimelineJSON(t, open(t)) })
	t.Run("Postmortems", func(t *testing.T) { t.Parallel(); testPostmortems(t, open(t)) })
	t.Run("ActionItems", func(t *testing.T) { t.Parallel(); testActionItems(t, open(t)) })
	t.Run("StatusUpdates", func(t *testing.T) { t.Parallel(); testStatusUpdates(t, open(t)) })
	t.Run("Inbox", func(t *testing.T) { t.Parallel(); testInbox(t, open(t)) })
	t.Run("Projection", func(t *testing.T) { t.Parallel(); testProjection(t, open) })
}

// T0 is when the sequence's first alert is received.
var T0 = time.Date(2026, 11, 28, 21, 29, 58, 0, time.UTC)

func ptr[T any](v T) *T { return &v }

func inTx(t *testing.T, s postmortem.Store, fn func(tx postmortem.Tx) error) {
	t.Helper()
	if err := s.InTx(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

func testIncidents(t *testing.T, s postmortem.Store) {
	ctx := context.Background()
	inc := postmortem.Incident{ID: "i-1", Number: 7, Title: "5xx", Service: "checkout", Severity: "SEV1", DedupKey: "5xx",
		Status: "triggered", TriggeredAt: T0}
	inTx(t, s, func(tx postmortem.Tx) error {
		if ok, err := tx.IncidentInsert(ctx, inc); err != nil || !ok {
			t.Fatalf("insert: %v %v", ok, err)
		}
		if ok, err := tx.IncidentInsert(ctx, inc); err != nil || ok {
			t.Fatalf("second insert: %v %v, want false", ok, err)
		}
		return nil
	})
	got, err := s.IncidentByNumber(ctx, 7)
	if err != nil || got.ID != "i-1" || !got.TriggeredAt.Equal(T0) || got.AcknowledgedAt != nil {
		t.Fatalf("by number: %+v %v", got, err)
	}
	if _, err := s.IncidentGet(ctx, "nope"); !errors.Is(err, postmortem.ErrNotFound) {
		t.Fatalf("unknown: %v", err)
	}
	if _, err := s.IncidentByNumber(ctx, 8); !errors.Is(err, postmortem.ErrNotFound) {
		t.Fatalf("unknown number: %v", err)
	}
	ack, res := T0.Add(time.Minute), T0.Add(time.Hour)
	inc.AcknowledgedAt, inc.ResolvedAt, inc.Status, inc.Severity = &ack, &res, "resolved", "SEV2"
	inTx(t, s, func(tx postmortem.Tx) error {
		if err := tx.IncidentUpdate(ctx, inc); err != nil {
			return err
		}
		return tx.IncidentAlertsAdd(ctx, inc.ID, 3)
	})
	got, err = s.IncidentGet(ctx, "i-1")
	if err != nil || got.Status != "resolved" || got.Severity != "SEV2" || !got.AcknowledgedAt.Equal(ack) || !got.ResolvedAt.Equal(res) ||
		got.ContainedAt != nil || got.AlertCount != 3 {
		t.Fatalf("after update: %+v %v", got, err)
	}
	// The incident of (service, key) open at a time.
	inTx(t, s, func(tx postmortem.Tx) error {
		for _, c := range []struct {
			at   time.Time
			want bool
		}{
			{T0.Add(-30 * time.Second), true}, // the alert just before its trigger
			{T0.Add(30 * time.Minute), true},
			{res, true},
			{T0.Add(-2 * time.Minute), false},
			{res.Add(time.Second), false},
		} {
			got, err := tx.IncidentAtKey(ctx, "checkout", "5xx", c.at)
			if c.want && (err != nil || got.ID != "i-1") || !c.want && !errors.Is(err, postmortem.ErrNotFound) {
				t.Errorf("at %s: %+v %v, want found=%v", c.at, got, err, c.want)
			}
		}
		return nil
	})
	// A key that joined the incident (grouped or merged) finds it from a
	// minute before it joined until the incident resolved; its own
	// incident would come first.
	inTx(t, s, func(tx postmortem.Tx) error {
		for range 2 { // joining twice is a no-op
			if err := tx.KeyJoin(ctx, "checkout", "disk", "i-1", T0.Add(10*time.Minute)); err != nil {
				return err
			}
		}
		for _, c := range []struct {
			at   time.Time
			want bool
		}{
			{T0.Add(9 * time.Minute), true},
			{T0.Add(30 * time.Minute), true},
			{res, true},
			{T0.Add(8 * time.Minute), false},
			{res.Add(time.Second), false},
		} {
			got, err := tx.IncidentAtKey(ctx, "checkout", "disk", c.at)
			if c.want && (err != nil || got.ID != "i-1") || !c.want && !errors.Is(err, postmortem.ErrNotFound) {
				t.Errorf("joined key at %s: %+v %v, want found=%v", c.at, got, err, c.want)
			}
		}
		if _, err := tx.IncidentAtKey(ctx, "billing", "disk", T0.Add(30*time.Minute)); !errors.Is(err, postmortem.ErrNotFound) {
			t.Errorf("the key of another service: %v", err)
		}
		return nil
	})
	list, err := s.IncidentsTriggered(ctx, T0.Add(-time.Hour), T0.Add(time.Second))
	if err != nil || len(list) != 1 {
		t.Fatalf("triggered list: %+v %v", list, err)
	}
	if list, err = s.IncidentsTriggered(ctx, T0.Add(time.Second), T0.Add(time.Hour)); err != nil || len(list) != 0 {
		t.Fatalf("triggered later: %+v %v", list, err)
	}
}

func testTimeline(t *testing.T, s postmortem.Store) {
	ctx := context.Background()
	alice := events.Actor{Kind: events.ActorUser, ID: "alice", Name: "Alice", Channel: events.ChannelSlack}
	es := []postmortem.Entry{
		{EventID: "e3", IncidentID: "i-1", At: T0.Add(2 * time.Second), Type: "incident.acknowledged", Actor: alice, Summary: "Acknowledged", Details: json.RawMessage(`{"note":"x"}`)},
		{EventID: "e1", IncidentID: "i-1", At: T0, Type: "incident.triggered", Actor: events.System("incident"), Summary: "INC-1 triggered"},
		{EventID: "e2", IncidentID: "i-1", At: T0, Type: "x.custom", Actor: alice, Summary: "custom"},
		{EventID: "a1", At: T0.Add(time.Second), Type: "alert.received", Actor: alice, Summary: "Alert", AlertService: "checkout", AlertKey: "5xx"},
		{EventID: "a0", At: T0.Add(-2 * time.Minute), Type: "alert.received", Actor: alice, Summary: "old", AlertService: "checkout", AlertKey: "5xx"},
		{EventID: "o1", IncidentID: "i-2", At: T0, Type: "incident.triggered", Actor: alice, Summary: "other"},
	}
	inTx(t, s, func(tx postmortem.Tx) error {
		for _, e := range es {
			if ok, err := tx.EntryAdd(ctx, e); err != nil || !ok {
				t.Fatalf("add %s: %v %v", e.EventID, ok, err)
			}
		}
		if ok, err := tx.EntryAdd(ctx, es[0]); err != nil || ok {
			t.Fatalf("re-add: %v %v, want false", ok, err)
		}
		n, err := tx.AlertsAttach(ctx, "checkout", "5xx", "i-1", T0.Add(-time.Minute))
		if err != nil || n != 1 {
			t.Fatalf("attach: %d %v, want 1 (the old alert stays)", n, err)
		}
		return nil
	})
	got, err := s.Timeline(ctx, "i-1", true)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range got {
		ids = append(ids, e.EventID)
	}
	if want := []string{"e1", "e2", "a1", "e3"}; !slices.Equal(ids, want) {
		t.Fatalf("order %v, want %v", ids, want)
	}
	if e := got[3]; e.Actor != alice || string(e.Details) != `{"note":"x"}` || !e.At.Equal(T0.Add(2*time.Second)) || e.Summary != "Acknowledged" {
		t.Fatalf("entry %+v", e)
	}
	if string(got[0].Details) != "{}" {
		t.Fatalf("empty details stored as %q, want {}", got[0].Details)
	}
	if none, err := s.Timeline(ctx, "i-9", false); err != nil || len(none) != 0 {
		t.Fatalf("unknown incident timeline %v %v", none, err)
	}
	inTx(t, s, func(tx postmortem.Tx) error {
		for i, u := range []string{"alice", "bob", "alice"} {
			if err := tx.PageAdd(ctx, postmortem.Page{EventID: "p" + u + string(rune('0'+i)), IncidentID: "i-1", User: u, At: T0.Add(time.Duration(i) * time.Hour)}); err != nil {
				return err
			}
		}
		return tx.PageAdd(ctx, postmortem.Page{EventID: "palice0", IncidentID: "i-1", User: "alice", At: T0}) // redelivered
	})
	pages, err := s.Pages(ctx, T0, T0.Add(2*time.Hour))
	if err != nil || len(pages) != 2 || pages[0].User != "alice" || pages[1].User != "bob" {
		t.Fatalf("pages %+v %v", pages, err)
	}
}

func testPostmortems(t *testing.T, s postmortem.Store) {
	ctx := context.Background()
	p := postmortem.Postmortem{ID: "pm-1", IncidentID: "i-1", State: postmortem.StateDraft, Revision: 1, Title: "PM",
		Sections: postmortem.Sections{Summary: "s", RootCause: "r"}, CreatedBy: "alice", CreatedAt: T0, UpdatedAt: T0}
	inTx(t, s, func(tx postmortem.Tx) error {
		if err := tx.PostmortemInsert(ctx, p); err != nil {
			return err
		}
		return tx.RevisionAdd(ctx, postmortem.Revision{PostmortemID: p.ID, Revision: 1, State: p.State, Title: p.Title, Sections: p.Sections, Author: "alice", At: T0})
	})
	p2 := p
	p2.Revision, p2.Sections.Impact, p2.UpdatedAt = 2, "all users", T0.Add(time.Minute)
	inTx(t, s, func(tx postmortem.Tx) error { return tx.PostmortemUpdate(ctx, p2, 1) })
	stale := p
	stale.Revision, stale.Title = 2, "overwrite"
	err := s.InTx(ctx, func(tx postmortem.Tx) error { return tx.PostmortemUpdate(ctx, stale, 1) })
	if !errors.Is(err, postmortem.ErrStaleRevision) {
		t.Fatalf("stale update: %v, want ErrStaleRevision", err)
	}
	got, err := s.PostmortemByIncident(ctx, "i-1")
	if err != nil || got.Revision != 2 || got.Title != "PM" || got.Sections.Impact != "all users" || got.Sections.RootCause != "r" || got.PublishedAt != nil {
		t.Fatalf("after edits %+v %v", got, err)
	}
	if _, err := s.PostmortemGet(ctx, "pm-9"); !errors.Is(err, postmortem.ErrNotFound) {
		t.Fatalf("unknown: %v", err)
	}
	revs, err := s.Revisions(ctx, "pm-1")
	if err != nil || len(revs) != 1 || revs[0].Sections.Summary != "s" || revs[0].Author != "alice" {
		t.Fatalf("revisions %+v %v", revs, err)
	}
	dup := p
	dup.ID = "pm-2"
	if err := s.InTx(ctx, func(tx postmortem.Tx) error { return tx.PostmortemInsert(ctx, dup) }); err == nil {
		t.Fatal("a second post-mortem for one incident was stored")
	}
}

func testActionItems(t *testing.T, s postmortem.Store) {
	ctx := context.Background()
	items := []postmortem.ActionItem{
		{ID: "a1", IncidentID: "i-1", Title: "alerts", Owner: "bob", Due: "2026-11-20", Status: postmortem.ItemOpen, CreatedAt: T0, UpdatedAt: T0},
		{ID: "a2", IncidentID: "i-1", Title: "docs", Owner: "eve", Due: "2026-12-20", Status: postmortem.ItemOpen, CreatedAt: T0.Add(time.Second), UpdatedAt: T0},
		{ID: "a3", IncidentID: "i-2", Title: "done", Owner: "eve", Due: "2026-11-01", Status: postmortem.ItemDone, CreatedAt: T0.Add(2 * time.Second), UpdatedAt: T0},
		{ID: "a4", IncidentID: "i-2", Title: "no due", Owner: "eve", Status: postmortem.ItemOpen, CreatedAt: T0.Add(3 * time.Second), UpdatedAt: T0},
	}
	inTx(t, s, func(tx postmortem.Tx) error {
		for _, a := range items {
			if err := tx.ActionItemInsert(ctx, a); err != nil {
				return err
			}
		}
		return nil
	})
	for _, c := range []struct {
		f    postmortem.ActionItemFilter
		want []string
	}{
		{postmortem.ActionItemFilter{}, []string{"a1", "a2", "a3", "a4"}},
		{postmortem.ActionItemFilter{IncidentID: "i-2"}, []string{"a3", "a4"}},
		{postmortem.ActionItemFilter{Status: postmortem.ItemOpen, DueBefore: "2026-11-28"}, []string{"a1"}},
		{postmortem.ActionItemFilter{Status: postmortem.ItemDone}, []string{"a3"}},
	} {
		got, err := s.ActionItems(ctx, c.f)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, a := range got {
			ids = append(ids, a.ID)
		}
		if !slices.Equal(ids, c.want) {
			t.Errorf("filter %+v: %v, want %v", c.f, ids, c.want)
		}
	}
	a := items[0]
	a.Status, a.TrackerURL, a.OverdueAt, a.PagedAt = postmortem.ItemDone, "https://t.example/1", ptr(T0), ptr(T0.Add(time.Hour))
	inTx(t, s, func(tx postmortem.Tx) error { return tx.ActionItemUpdate(ctx, a) })
	got, err := s.ActionItemGet(ctx, "a1")
	if err != nil || got.Status != postmortem.ItemDone || got.TrackerURL != "https://t.example/1" || got.OverdueAt == nil || !got.OverdueAt.Equal(T0) ||
		got.PagedAt == nil || !got.PagedAt.Equal(T0.Add(time.Hour)) {
		t.Fatalf("updated %+v %v", got, err)
	}
	// A paged item inserted as such keeps it; clearing it clears it.
	b := items[1]
	b.ID, b.PagedAt = "a5", ptr(T0)
	inTx(t, s, func(tx postmortem.Tx) error { return tx.ActionItemInsert(ctx, b) })
	if got, err := s.ActionItemGet(ctx, "a5"); err != nil || got.PagedAt == nil || !got.PagedAt.Equal(T0) {
		t.Fatalf("inserted paged %+v %v", got, err)
	}
	b.PagedAt = nil
	inTx(t, s, func(tx postmortem.Tx) error { return tx.ActionItemUpdate(ctx, b) })
	if got, err := s.ActionItemGet(ctx, "a5"); err != nil || got.PagedAt != nil {
		t.Fatalf("cleared paged %+v %v", got, err)
	}
	if _, err := s.ActionItemGet(ctx, "a9"); !errors.Is(err, postmortem.ErrNotFound) {
		t.Fatalf("unknown: %v", err)
	}
}

func testStatusUpdates(t *testing.T, s postmortem.Store) {
	ctx := context.Background()
	mk := func(id, audience, state string, at time.Time) postmortem.StatusUpdate {
		u := postmortem.StatusUpdate{ID: id, IncidentID: "i-1", Audience: audience, Status: "investigating", Title: id, Body: "b",
			State: state, DraftedBy: "alice", CreatedAt: at}
		if state == postmortem.UpdatePublished {
			u.ApprovedBy, u.ApprovedAt, u.PublishedAt = "carol", &at, &at
		}
		return u
	}
	inTx(t, s, func(tx postmortem.Tx) error {
		for _, u := range []postmortem.StatusUpdate{
			mk("u1", postmortem.AudienceExternal, postmortem.UpdatePublished, T0),
			mk("u2", postmortem.AudienceExternal, postmortem.UpdateDraft, T0.Add(time.Minute)),
			mk("u3", postmortem.AudienceInternal, postmortem.UpdatePublished, T0.Add(2*time.Minute)),
			mk("u4", postmortem.AudienceExternal, postmortem.UpdatePublished, T0.Add(3*time.Minute)),
		} {
			if err := tx.StatusUpdateInsert(ctx, u); err != nil {
				return err
			}
		}
		return nil
	})
	feed, err := s.StatusFeed(ctx, 10)
	if err != nil || len(feed) != 2 || feed[0].ID != "u4" || feed[1].ID != "u1" {
		t.Fatalf("feed %+v %v: want the published external updates, newest first", feed, err)
	}
	if feed, err = s.StatusFeed(ctx, 1); err != nil || len(feed) != 1 {
		t.Fatalf("limited feed %+v %v", feed, err)
	}
	u := mk("u2", postmortem.AudienceExternal, postmortem.UpdateApproved, T0)
	u.ApprovedBy, u.ApprovedAt = "carol", ptr(T0.Add(time.Hour))
	inTx(t, s, func(tx postmortem.Tx) error { return tx.StatusUpdateUpdate(ctx, u, postmortem.UpdateDraft) })
	err = s.InTx(ctx, func(tx postmortem.Tx) error { return tx.StatusUpdateUpdate(ctx, u, postmortem.UpdateDraft) })
	if !errors.Is(err, postmortem.ErrConflict) {
		t.Fatalf("second approval from draft: %v, want ErrConflict", err)
	}
	got, err := s.StatusUpdateGet(ctx, "u2")
	if err != nil || got.State != postmortem.UpdateApproved || got.ApprovedBy != "carol" || got.PublishedAt != nil {
		t.Fatalf("approved %+v %v", got, err)
	}
	all, err := s.StatusUpdates(ctx, "i-1")
	if err != nil || len(all) != 4 || all[0].ID != "u1" {
		t.Fatalf("list %+v %v", all, err)
	}
}

func testInbox(t *testing.T, s postmortem.Store) {
	ctx := context.Background()
	for i, want := range []bool{true, false} {
		inTx(t, s, func(tx postmortem.Tx) error {
			ok, err := tx.MarkProcessed(ctx, postmortem.Inbox, "m1")
			if err != nil || ok != want {
				t.Fatalf("mark %d: %v %v, want %v", i, ok, err, want)
			}
			return nil
		})
	}
	// A timer scheduled in a transaction is due from the store's source.
	inTx(t, s, func(tx postmortem.Tx) error {
		return tx.ScheduleTimer(ctx, timer.Timer{Kind: postmortem.TimerOverdue, Key: "a1", DueAt: T0, CreatedAt: T0})
	})
	due, err := s.Timers().ClaimDue(ctx, T0.Add(time.Second), 10, "r1", time.Minute)
	if err != nil || len(due) != 1 || due[0].Key != "a1" {
		t.Fatalf("claim %+v %v", due, err)
	}
	fired := false
	if err := s.FireTimer(ctx, due[0], func(tx postmortem.Tx) error { fired = true; return nil }); err != nil || !fired {
		t.Fatalf("fire: %v %v", fired, err)
	}
	if err := s.FireTimer(ctx, due[0], func(tx postmortem.Tx) error { return nil }); !errors.Is(err, timer.ErrGone) {
		t.Fatalf("second fire: %v, want ErrGone", err)
	}
}
