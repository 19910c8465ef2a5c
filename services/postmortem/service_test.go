package postmortem_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/db/dbtest"
	"github.com/firebreak-dev/firebreak/internal/fault"
	"github.com/firebreak-dev/firebreak/internal/httpapi"
	"github.com/firebreak-dev/firebreak/internal/timer"
	"github.com/firebreak-dev/firebreak/services/postmortem"
	"github.com/firebreak-dev/firebreak/services/postmortem/store/sqlite"
	"github.com/firebreak-dev/firebreak/services/postmortem/storetest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

type fixture struct {
	svc   *postmortem.Service
	store *sqlite.Store
	clock *clock
}

// newFixture projects storetest.Sequence into a fresh SQLite store.
func newFixture(t *testing.T) fixture {
	t.Helper()
	c := &clock{t: storetest.T0.Add(48 * time.Hour)}
	st := sqlite.New(dbtest.SQLite(t, "outbox", "timer", "postmortem"), c.Now)
	svc, err := postmortem.New(st, nil, postmortem.Config{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	evts, alerts := storetest.Sequence()
	storetest.Project(t, svc, append(evts, alerts...)...)
	return fixture{svc: svc, store: st, clock: c}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from the golden file:\n%s", name, got)
	}
}

func TestTimelineFormatsGolden(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	inc, es, err := f.svc.Timeline(context.Background(), "INC-42", false)
	if err != nil {
		t.Fatal(err)
	}
	var md, csv bytes.Buffer
	if err := postmortem.WriteTimelineMarkdown(&md, inc, es, berlin, 2); err != nil {
		t.Fatal(err)
	}
	golden(t, "timeline.md", md.Bytes())
	if err := postmortem.WriteTimelineCSV(&csv, es, berlin); err != nil {
		t.Fatal(err)
	}
	golden(t, "timeline.csv", csv.Bytes())
	// Times are in the chosen zone: the trigger at 21:30 UTC is 22:30 in
	// Berlin (CET).
	if !strings.Contains(md.String(), "2026-11-28 22:30:00 | incident.triggered") {
		t.Fatal("Markdown times are not in Europe/Berlin")
	}
}

func TestPostmortemLifecycle(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	alice := storetest.Alice
	if _, err := f.svc.CreatePostmortem(ctx, alice, "INC-404", ""); fault.KindOf(err) != fault.NotFound {
		t.Fatalf("unknown incident: %v, want not found", err)
	}
	p, err := f.svc.CreatePostmortem(ctx, alice, "INC-42", "")
	if err != nil {
		t.Fatal(err)
	}
	if p.State != postmortem.StateDraft || p.Revision != 1 || p.Title != "Post-mortem: 5xx above 5%" ||
		!strings.Contains(p.Sections.Summary, "INC-42 (SEV1) on checkout") || !strings.Contains(p.Sections.Detection, "acknowledged after 6m 0s") {
		t.Fatalf("created %+v", p)
	}
	if _, err := f.svc.CreatePostmortem(ctx, alice, "42", ""); !errors.Is(err, postmortem.ErrExists) {
		t.Fatalf("second post-mortem: %v", err)
	}
	rc := "deploy 118 doubled the connection pool"
	p2, err := f.svc.EditPostmortem(ctx, alice, p.ID, postmortem.Edit{BaseRevision: 1, Sections: postmortem.SectionPatch{RootCause: &rc}})
	if err != nil || p2.Revision != 2 || p2.Sections.RootCause != rc || p2.Sections.Summary != p.Sections.Summary {
		t.Fatalf("edit: %+v %v", p2, err)
	}
	// Bob edits what he read at revision 1: refused, nothing overwritten.
	other := "something else"
	_, err = f.svc.EditPostmortem(ctx, storetest.Bob, p.ID, postmortem.Edit{BaseRevision: 1, Sections: postmortem.SectionPatch{RootCause: &other}})
	if !errors.Is(err, postmortem.ErrStaleRevision) || httpapi.StatusOf(err) != 409 {
		t.Fatalf("stale edit: %v (status %d), want 409 stale_revision", err, httpapi.StatusOf(err))
	}
	if got, _ := f.svc.GetPostmortem(ctx, p.ID); got.Sections.RootCause != rc || got.Revision != 2 {
		t.Fatalf("after stale edit %+v", got)
	}
	if _, err := f.svc.EditPostmortem(ctx, alice, p.ID, postmortem.Edit{}); fault.DetailsOf(err)["field"] != "base_revision" {
		t.Fatalf("edit without base revision: %v", err)
	}
	empty := " "
	if _, err := f.svc.EditPostmortem(ctx, alice, p.ID, postmortem.Edit{BaseRevision: 2, Title: &empty}); fault.DetailsOf(err)["field"] != "title" {
		t.Fatalf("empty title: %v", err)
	}
	if _, err := f.svc.SetState(ctx, alice, p.ID, 2, postmortem.StatePublished); !errors.Is(err, postmortem.ErrIllegalState) {
		t.Fatalf("draft → published: %v", err)
	}
	if _, err := f.svc.SetState(ctx, alice, p.ID, 2, postmortem.StateInReview); err != nil {
		t.Fatal(err)
	}
	pub, err := f.svc.SetState(ctx, alice, p.ID, 3, postmortem.StatePublished)
	if err != nil || pub.State != postmortem.StatePublished || pub.PublishedAt == nil || pub.Revision != 4 {
		t.Fatalf("publish: %+v %v", pub, err)
	}
	if _, err := f.svc.EditPostmortem(ctx, alice, p.ID, postmortem.Edit{BaseRevision: 4, Sections: postmortem.SectionPatch{RootCause: &other}}); !errors.Is(err, postmortem.ErrIllegalState) {
		t.Fatalf("edit after publishing: %v", err)
	}
	// created and published went to the outbox, in that transaction.
	if n, err := f.store.OutboxCount(ctx); err != nil || n != 2 {
		t.Fatalf("outbox %d %v, want postmortem.created and postmortem.published", n, err)
	}
	revs, err := f.store.Revisions(ctx, p.ID)
	if err != nil || len(revs) != 4 || revs[1].Sections.RootCause != rc || revs[1].Author != "Alice Liddell" {
		t.Fatalf("revisions %+v %v", revs, err)
	}
	due := "2026-12-01"
	owner, title, url := "bob", "alert on pool saturation", "https://tracker.example.com/OPS-1"
	if _, err := f.svc.CreateActionItem(ctx, "INC-42", postmortem.ActionItemInput{Title: &title, Owner: &owner, Due: &due, TrackerURL: &url}); err != nil {
		t.Fatal(err)
	}
	var md bytes.Buffer
	berlin, _ := time.LoadLocation("Europe/Berlin")
	if err := f.svc.PostmortemMarkdown(ctx, &md, pub, berlin); err != nil {
		t.Fatal(err)
	}
	golden(t, "postmortem.md", md.Bytes())
}

func TestActionItemsOverdue(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	str := func(s string) *string { return &s }
	for _, c := range []struct {
		in    postmortem.ActionItemInput
		field string
	}{
		{postmortem.ActionItemInput{Owner: str("bob")}, "title"},
		{postmortem.ActionItemInput{Title: str("x")}, "owner"},
		{postmortem.ActionItemInput{Title: str("x"), Owner: str("bob"), Due: str("next week")}, "due"},
		{postmortem.ActionItemInput{Title: str("x"), Owner: str("bob"), Status: str("maybe")}, "status"},
		{postmortem.ActionItemInput{Title: str("x"), Owner: str("bob"), TrackerURL: str("javascript:alert(1)")}, "tracker_url"},
	} {
		if _, err := f.svc.CreateActionItem(ctx, "INC-42", c.in); fault.DetailsOf(err)["field"] != c.field {
			t.Errorf("%+v: %v, want an error naming %s", c.in, err, c.field)
		}
	}
	// now is T0+48h = 2026-11-30 21:29 UTC.
	late, err := f.svc.CreateActionItem(ctx, "INC-42", postmortem.ActionItemInput{Title: str("late"), Owner: str("bob"), Due: str("2026-11-29")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.CreateActionItem(ctx, "INC-42", postmortem.ActionItemInput{Title: str("later"), Owner: str("eve"), Due: str("2026-12-24")}); err != nil {
		t.Fatal(err)
	}
	over, err := f.svc.ActionItems(ctx, "", "", true)
	if err != nil || len(over) != 1 || over[0].ID != late.ID {
		t.Fatalf("overdue %+v %v", over, err)
	}
	// The timer fires a day after the due day ends: 2026-12-01 00:00 UTC.
	fire := func(at time.Time) int {
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
		return len(due)
	}
	if n := fire(time.Date(2026, 11, 30, 23, 0, 0, 0, time.UTC)); n != 0 {
		t.Fatalf("%d timers fired early", n)
	}
	if n := fire(time.Date(2026, 12, 1, 0, 0, 1, 0, time.UTC)); n != 1 {
		t.Fatalf("%d timers fired, want 1", n)
	}
	got, err := f.store.ActionItemGet(ctx, late.ID)
	if err != nil || got.OverdueAt == nil {
		t.Fatalf("item after timer %+v %v", got, err)
	}
	if n, _ := f.store.OutboxCount(ctx); n != 1 {
		t.Fatalf("outbox %d, want one action_item.overdue", n)
	}
	// Done items are never reported.
	if _, err := f.svc.UpdateActionItem(ctx, late.ID, postmortem.ActionItemInput{Status: str("done")}); err != nil {
		t.Fatal(err)
	}
	if over, _ := f.svc.ActionItems(ctx, "", "", true); len(over) != 0 {
		t.Fatalf("done item still overdue: %+v", over)
	}
}

func TestStatusUpdatesNeedApproval(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	u, err := f.svc.DraftStatusUpdate(ctx, storetest.Bob, "INC-42", postmortem.StatusUpdateInput{
		Audience: "external", Status: "identified", Title: "Checkout errors", Body: "We found the cause."})
	if err != nil {
		t.Fatal(err)
	}
	// Publishing a draft is refused; nothing reaches the feed or the bus.
	if _, err := f.svc.PublishStatusUpdate(ctx, storetest.Bob, u.ID); !errors.Is(err, postmortem.ErrIllegalState) {
		t.Fatalf("publish a draft: %v", err)
	}
	if feed, _ := f.store.StatusFeed(ctx, 10); len(feed) != 0 {
		t.Fatalf("unapproved update on the feed: %+v", feed)
	}
	if n, _ := f.store.OutboxCount(ctx); n != 0 {
		t.Fatalf("outbox %d before approval", n)
	}
	ap, err := f.svc.ApproveStatusUpdate(ctx, storetest.Alice, u.ID)
	if err != nil || ap.ApprovedBy != "Alice Liddell" {
		t.Fatalf("approve %+v %v", ap, err)
	}
	if _, err := f.svc.ApproveStatusUpdate(ctx, storetest.Alice, u.ID); !errors.Is(err, postmortem.ErrIllegalState) {
		t.Fatalf("approve twice: %v", err)
	}
	if _, err := f.svc.PublishStatusUpdate(ctx, storetest.Alice, u.ID); err != nil {
		t.Fatal(err)
	}
	if feed, _ := f.store.StatusFeed(ctx, 10); len(feed) != 1 || feed[0].ID != u.ID {
		t.Fatalf("feed %+v", feed)
	}
	if n, _ := f.store.OutboxCount(ctx); n != 1 {
		t.Fatalf("outbox %d, want status_update.published", n)
	}
	for _, c := range []struct {
		in    postmortem.StatusUpdateInput
		field string
	}{
		{postmortem.StatusUpdateInput{Audience: "everyone", Status: "identified", Title: "t", Body: "b"}, "audience"},
		{postmortem.StatusUpdateInput{Audience: "external", Status: "fine", Title: "t", Body: "b"}, "status"},
		{postmortem.StatusUpdateInput{Audience: "external", Status: "identified", Body: "b"}, "title"},
		{postmortem.StatusUpdateInput{Audience: "external", Status: "identified", Title: "t"}, "body"},
	} {
		if _, err := f.svc.DraftStatusUpdate(ctx, storetest.Bob, "INC-42", c.in); fault.DetailsOf(err)["field"] != c.field {
			t.Errorf("%+v: %v, want an error naming %s", c.in, err, c.field)
		}
	}
}

func TestReports(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	rep, err := f.svc.Response(ctx, storetest.T0.Add(-time.Hour), storetest.T0.Add(time.Hour), "severity")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Total.Incidents != 2 || rep.Total.Resolved != 1 || len(rep.Groups) != 2 || rep.Groups[0].Key != "SEV1" ||
		*rep.Groups[0].TimeToAcknowledge.Mean != 360 || *rep.Groups[0].TimeToResolve.Mean != 2400 || rep.Groups[1].TimeToResolve.Mean != nil {
		t.Fatalf("report %+v", rep)
	}
	if _, err := f.svc.Response(ctx, storetest.T0, storetest.T0, "team"); fault.DetailsOf(err)["field"] != "by" {
		t.Fatalf("bad by: %v", err)
	}
	berlin, _ := time.LoadLocation("Europe/Berlin")
	load, err := f.svc.OnCall(ctx, storetest.T0.Add(-time.Hour), storetest.T0.Add(time.Hour), berlin)
	if err != nil {
		t.Fatal(err)
	}
	// 21:30 UTC is 22:30 in Berlin: night. In UTC it is not.
	if len(load.People) != 2 || load.People[0] != (postmortem.Load{User: "alice", Pages: 1, Night: 1, Incidents: 1}) {
		t.Fatalf("load %+v", load)
	}
	load, _ = f.svc.OnCall(ctx, storetest.T0.Add(-time.Hour), storetest.T0.Add(time.Hour), time.UTC)
	if load.People[0].Night != 0 {
		t.Fatalf("UTC load %+v", load)
	}
}

// TestProjectionIgnoresBadEvents: a malformed trigger is a permanent
// (Invalid) error; events about nothing are skipped.
func TestProjectionIgnoresBadEvents(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	bad := events.MustNew(events.TypeIncidentTriggered, "x", "", storetest.Bob, map[string]any{"number": 1})
	if err := f.svc.Project(context.Background(), bad); fault.KindOf(err) != fault.Invalid {
		t.Fatalf("bad trigger: %v", err)
	}
	cmd := events.MustNew("incident.acknowledge", "x", "", storetest.Bob, events.IncidentCommand{Incident: "INC-999"})
	if err := f.svc.Project(context.Background(), cmd); err != nil {
		t.Fatalf("event about an unknown number: %v", err)
	}
	_ = timer.ErrGone
}
