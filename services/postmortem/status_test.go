package postmortem_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/db/dbtest"
	"github.com/firebreak-dev/firebreak/internal/httpapi"
	outboxsqlite "github.com/firebreak-dev/firebreak/internal/outbox/sqlite"
	"github.com/firebreak-dev/firebreak/services/postmortem"
	"github.com/firebreak-dev/firebreak/services/postmortem/store/sqlite"
	"github.com/firebreak-dev/firebreak/services/postmortem/storetest"
)

// TestStatusUpdateSelfApproval: whoever drafted an update cannot approve
// it; another person can, and the published event names the incident's
// service for subscribers' filters.
func TestStatusUpdateSelfApproval(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := dbtest.SQLite(t, "outbox", "timer", "postmortem")
	c := &clock{t: storetest.T0}
	svc, err := postmortem.New(sqlite.New(d, c.Now), nil, postmortem.Config{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	evts, alerts := storetest.Sequence()
	storetest.Project(t, svc, append(evts, alerts...)...)

	u, err := svc.DraftStatusUpdate(ctx, storetest.Alice, "INC-42", postmortem.StatusUpdateInput{
		Audience: "external", Status: "identified", Title: "Checkout errors", Body: "We found the cause."})
	if err != nil {
		t.Fatal(err)
	}
	_, err = svc.ApproveStatusUpdate(ctx, storetest.Alice, u.ID)
	if !errors.Is(err, postmortem.ErrSelfApproval) || httpapi.StatusOf(err) != 403 || !strings.Contains(err.Error(), "four-eyes") {
		t.Fatalf("self-approval: %v (status %d)", err, httpapi.StatusOf(err))
	}
	// The refused approval left the draft a draft.
	if _, err := svc.PublishStatusUpdate(ctx, storetest.Alice, u.ID); !errors.Is(err, postmortem.ErrIllegalState) {
		t.Fatalf("publish after a refused approval: %v", err)
	}
	ap, err := svc.ApproveStatusUpdate(ctx, storetest.Bob, u.ID)
	if err != nil || ap.ApprovedBy != "Bob" || ap.DraftedBy != "Alice Liddell" {
		t.Fatalf("approve by another: %+v %v", ap, err)
	}
	if _, err := svc.PublishStatusUpdate(ctx, storetest.Bob, u.ID); err != nil {
		t.Fatal(err)
	}
	recs, err := outboxsqlite.New(d).Pending(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	var pub []events.StatusUpdatePublished
	for _, r := range recs {
		env, err := events.Decode(r.Payload)
		if err != nil {
			t.Fatal(err)
		}
		if env.Type == events.TypeStatusUpdatePublished {
			var p events.StatusUpdatePublished
			_ = env.DecodeData(&p)
			pub = append(pub, p)
		}
	}
	if len(pub) != 1 || pub[0].Service != "checkout" || pub[0].ApprovedBy != "Bob" || pub[0].Audience != "external" {
		t.Fatalf("status_update.published %+v", pub)
	}
}
