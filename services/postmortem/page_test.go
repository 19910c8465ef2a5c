package postmortem_test

import (
	"context"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/db/dbtest"
	outboxsqlite "github.com/firebreak-dev/firebreak/internal/outbox/sqlite"
	"github.com/firebreak-dev/firebreak/internal/timer"
	"github.com/firebreak-dev/firebreak/services/postmortem"
	"github.com/firebreak-dev/firebreak/services/postmortem/store/sqlite"
	"github.com/firebreak-dev/firebreak/services/postmortem/storetest"
)

// pageFixture is a fixture whose service pages owners pageAfter past due,
// with the outbox readable.
type pageFixture struct {
	fixture
	outbox *outboxsqlite.Store
}

func newPageFixture(t *testing.T, pageAfter time.Duration) pageFixture {
	t.Helper()
	c := &clock{t: storetest.T0.Add(48 * time.Hour)}
	d := dbtest.SQLite(t, "outbox", "timer", "postmortem")
	st := sqlite.New(d, c.Now)
	svc, err := postmortem.New(st, nil, postmortem.Config{Now: c.Now, PageOverdueAfter: pageAfter})
	if err != nil {
		t.Fatal(err)
	}
	evts, alerts := storetest.Sequence()
	storetest.Project(t, svc, append(evts, alerts...)...)
	return pageFixture{fixture: fixture{svc: svc, store: st, clock: c}, outbox: outboxsqlite.New(d)}
}

// fire sets the clock to at and fires the timers due then, returning them.
func (f pageFixture) fire(t *testing.T, at time.Time) []timer.Timer {
	t.Helper()
	ctx := context.Background()
	f.clock.Set(at)
	due, err := f.store.Timers().ClaimDue(ctx, at, 10, "t", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for _, tm := range due {
		if err := f.svc.HandleTimer(ctx, tm); err != nil {
			t.Fatal(err)
		}
	}
	return due
}

// pagesDue decodes the action_item.page_due events in the outbox.
func (f pageFixture) pagesDue(t *testing.T) []events.ActionItemPageDue {
	t.Helper()
	recs, err := f.outbox.Pending(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	var out []events.ActionItemPageDue
	for _, r := range recs {
		if r.Subject != events.SubjectFor(events.TypeActionItemPageDue) {
			continue
		}
		env, err := events.Decode(r.Payload)
		if err != nil {
			t.Fatal(err)
		}
		var d events.ActionItemPageDue
		if err := env.DecodeData(&d); err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
	}
	return out
}

// TestActionItemPageDue: an open item pages its owner once, the
// configured age past the end of its due day; a timer fired twice pages
// once; an edit does not page again, a new due date may; an item done,
// or moved later, before its page time is not paged then.
func TestActionItemPageDue(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	str := func(s string) *string { return &s }
	f := newPageFixture(t, 72*time.Hour)
	// now is T0+48h = 2026-11-30 21:29 UTC.
	item, err := f.svc.CreateActionItem(ctx, "INC-42", postmortem.ActionItemInput{Title: str("alert on disk growth"), Owner: str("bob"),
		Due: str("2026-11-29"), TrackerURL: str("https://tracker.example.com/OPS-118")})
	if err != nil {
		t.Fatal(err)
	}
	moved, err := f.svc.CreateActionItem(ctx, "INC-42", postmortem.ActionItemInput{Title: str("runbook"), Owner: str("eve"), Due: str("2026-11-29")})
	if err != nil {
		t.Fatal(err)
	}
	closed, err := f.svc.CreateActionItem(ctx, "INC-42", postmortem.ActionItemInput{Title: str("dashboards"), Owner: str("eve"), Due: str("2026-11-29")})
	if err != nil {
		t.Fatal(err)
	}
	// Before their page time, one item is moved a week later and one is
	// done: neither pages at the old time.
	if _, err := f.svc.UpdateActionItem(ctx, moved.ID, postmortem.ActionItemInput{Due: str("2026-12-06")}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.UpdateActionItem(ctx, closed.ID, postmortem.ActionItemInput{Status: str("done")}); err != nil {
		t.Fatal(err)
	}
	// The overdue reports fire at 2026-12-01 00:00; the page at 72 h past
	// the due day's end, 2026-12-03 00:00.
	f.fire(t, time.Date(2026, 12, 2, 23, 59, 0, 0, time.UTC))
	if got := f.pagesDue(t); len(got) != 0 {
		t.Fatalf("paged early: %+v", got)
	}
	due := f.fire(t, time.Date(2026, 12, 3, 0, 0, 30, 0, time.UTC))
	if len(due) != 1 || due[0].Kind != postmortem.TimerPage || due[0].Key != item.ID {
		t.Fatalf("timers at the page time: %+v", due)
	}
	inc, err := f.svc.ResolveIncident(ctx, "INC-42")
	if err != nil {
		t.Fatal(err)
	}
	pages := f.pagesDue(t)
	want := events.ActionItemPageDue{ActionItemOverdue: events.ActionItemOverdue{ActionItemID: item.ID, IncidentID: inc.ID, Number: 42,
		Title: "alert on disk growth", Owner: "bob", Due: "2026-11-29", TrackerURL: "https://tracker.example.com/OPS-118", OverdueDays: 3},
		OverdueHours: 72, IncidentTitle: inc.Title, Service: inc.Service, Severity: inc.Severity}
	if len(pages) != 1 || pages[0] != want {
		t.Fatalf("pages %+v, want %+v", pages, want)
	}
	got, err := f.store.ActionItemGet(ctx, item.ID)
	if err != nil || got.PagedAt == nil || !got.PagedAt.Equal(time.Date(2026, 12, 3, 0, 0, 30, 0, time.UTC)) {
		t.Fatalf("item after its page %+v %v", got, err)
	}
	// The same timer delivered again (a crash before the runner's ack)
	// finds it fired.
	if err := f.svc.HandleTimer(ctx, due[0]); err != nil {
		t.Fatal(err)
	}
	// An edit of a paged item does not page it again.
	if _, err := f.svc.UpdateActionItem(ctx, item.ID, postmortem.ActionItemInput{Title: str("alert on disk growth rate")}); err != nil {
		t.Fatal(err)
	}
	if n := len(f.fire(t, time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC))); n != 0 {
		t.Fatalf("%d timers after an edit of a paged item", n)
	}
	if got := f.pagesDue(t); len(got) != 1 {
		t.Fatalf("%d pages after a redelivery and an edit, want 1", len(got))
	}
	// The moved item pages at its new time (2026-12-10 00:00), once.
	f.fire(t, time.Date(2026, 12, 9, 0, 0, 0, 0, time.UTC))
	due = f.fire(t, time.Date(2026, 12, 10, 0, 1, 0, 0, time.UTC))
	pages = f.pagesDue(t)
	if len(due) != 1 || len(pages) != 2 || pages[1].ActionItemID != moved.ID || pages[1].Due != "2026-12-06" || pages[1].OverdueHours != 72 {
		t.Fatalf("moved item: timers %+v, pages %+v", due, pages)
	}
	// A paged item given a new due date may be missed, and paged, again.
	if _, err := f.svc.UpdateActionItem(ctx, item.ID, postmortem.ActionItemInput{Due: str("2026-12-20")}); err != nil {
		t.Fatal(err)
	}
	f.fire(t, time.Date(2026, 12, 23, 23, 0, 0, 0, time.UTC))
	f.fire(t, time.Date(2026, 12, 24, 0, 0, 0, 0, time.UTC))
	if pages := f.pagesDue(t); len(pages) != 3 || pages[2].ActionItemID != item.ID || pages[2].Due != "2026-12-20" {
		t.Fatalf("after a new due date: %+v", pages)
	}
	// Nothing is left to fire.
	if n := len(f.fire(t, time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC))); n != 0 {
		t.Fatalf("%d timers left", n)
	}
}

// TestActionItemPageOff: by default nobody is paged; items are only
// reported overdue.
func TestActionItemPageOff(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	str := func(s string) *string { return &s }
	for _, after := range []time.Duration{0, -time.Hour} {
		f := newPageFixture(t, after)
		if _, err := f.svc.CreateActionItem(ctx, "INC-42", postmortem.ActionItemInput{Title: str("x"), Owner: str("bob"), Due: str("2026-11-29")}); err != nil {
			t.Fatal(err)
		}
		due := f.fire(t, time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC))
		if len(due) != 1 || due[0].Kind != postmortem.TimerOverdue || len(f.pagesDue(t)) != 0 {
			t.Fatalf("page-overdue-after %s: timers %+v", after, due)
		}
	}
}

// TestActionItemPageSummaries: the timeline says what an action item page
// was about, and that its owner was or could not be paged.
func TestActionItemPageSummaries(t *testing.T) {
	t.Parallel()
	sys := events.System("escalation")
	for _, c := range []struct {
		env  events.Envelope
		want string
	}{
		{events.MustNew(events.TypePageRequested, "escalation", "inc-9", sys, events.PageRequested{IncidentID: "inc-9", Number: 9, User: "bob",
			ContactMethod: &events.PageContact{Name: "pager-hook", Type: "webhook"},
			ActionItem:    &events.PageActionItem{ID: "ai-1", Title: "alert on disk growth", Owner: "bob", Due: "2026-11-20", OverdueHours: 75}}),
			`Paged bob via webhook (pager-hook) about action item "alert on disk growth", overdue by 3 days`},
		{events.MustNew(events.TypePageSuppressed, "escalation", "inc-9", sys, events.PageSuppressed{IncidentID: "inc-9", Number: 9,
			Reason: events.SuppressedUnknownUser, User: "Bob Smith", ActionItem: "ai-1"}),
			"Page suppressed: unknown user (Bob Smith), action item ai-1"},
		{events.MustNew(events.TypeActionItemPageDue, "postmortem", "inc-9", events.System("postmortem"), events.ActionItemPageDue{
			ActionItemOverdue: events.ActionItemOverdue{ActionItemID: "ai-1", Title: "alert on disk growth", Owner: "bob", Due: "2026-11-20"},
			OverdueHours:      75}),
			"Action item owner to be paged (bob, due 2026-11-20, 75 h overdue): alert on disk growth"},
	} {
		if got := postmortem.Summarize(c.env); got != c.want {
			t.Errorf("%s: %q, want %q", c.env.Type, got, c.want)
		}
	}
}
