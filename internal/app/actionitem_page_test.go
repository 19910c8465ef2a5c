package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/client"
	"github.com/firebreak-dev/firebreak/services/escalation"
	"github.com/firebreak-dev/firebreak/services/incident"
	"github.com/firebreak-dev/firebreak/services/intake"
	"github.com/firebreak-dev/firebreak/services/notify"
	"github.com/firebreak-dev/firebreak/services/postmortem"
)

// itemHook is an owner's webhook endpoint: it keeps the signed pages it
// receives.
type itemHook struct {
	mu    sync.Mutex
	pages []notify.WebhookPayload
	bad   int
}

func (h *itemHook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	var p notify.WebhookPayload
	if notify.Verify("whsec-items", r.Header.Get(notify.HeaderSignature), body, time.Now(), 5*time.Minute) != nil ||
		json.Unmarshal(body, &p) != nil || p.IdempotencyKey != r.Header.Get(notify.HeaderIdempotencyKey) {
		h.bad++
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	h.pages = append(h.pages, p)
	w.WriteHeader(http.StatusNoContent)
}

func (h *itemHook) received() ([]notify.WebhookPayload, int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]notify.WebhookPayload(nil), h.pages...), h.bad
}

// TestOverdueActionItemPagesOwner: with --postmortem-page-overdue-after
// set, an open action item that far past its due date pages its owner
// through the owner's notification rule (a signed webhook), once, saying
// which item of which incident, how overdue, with its tracker link; an
// owner who is no configured user is not paged (page.suppressed).
func TestOverdueActionItemPagesOwner(t *testing.T) {
	t.Parallel()
	hook := &itemHook{}
	hs := httptest.NewServer(hook)
	t.Cleanup(hs.Close)
	cfg := devConfig(t.TempDir())
	cfg.Notify.WebhookSecret = "whsec-items"
	cfg.Postmortem.PageOverdueAfter = time.Hour
	a := start(t, cfg)
	rec := record(t, a.NATSConn())
	ctx := context.Background()
	c := client.New(a.HTTPURL(), a.Token(), "cli")
	if _, err := a.Escalation.ApplyConfig(ctx, escalation.Config{Users: []escalation.User{{ID: "bob",
		ContactMethods:    []escalation.ContactMethod{{Name: "pager-hook", Type: escalation.ContactWebhook, Address: hs.URL + "/bob"}},
		NotificationRules: []escalation.NotificationRule{{ContactMethod: "pager-hook"}},
	}}}, events.Actor{Kind: events.ActorUser, ID: "admin"}, false); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SendAlert(ctx, intake.Alert{Service: "checkout", DedupKey: "disk", Summary: "Disk 95% full on db1", Severity: "critical"}); err != nil {
		t.Fatal(err)
	}
	inc := waitIncident(t, c, "INC-1", func(incident.IncidentJSON) bool { return true })
	eventually(t, "the post-mortem projection", func() bool { _, err := c.TimelineJSON(ctx, "INC-1"); return err == nil })

	// Due three days ago: past its page time (an hour after the due day's
	// end) as soon as it is created.
	due := time.Now().UTC().AddDate(0, 0, -3).Format("2006-01-02")
	var item, ghost postmortem.ActionItem
	for owner, out := range map[string]*postmortem.ActionItem{"bob": &item, "ghost": &ghost} {
		body := `{"title":"Alert on disk growth","owner":"` + owner + `","due":"` + due + `","tracker_url":"https://tracker.example.com/OPS-118"}`
		if st := bearerJSON(t, http.MethodPost, a.HTTPURL()+"/api/v1/incidents/INC-1/action-items", a.Token(), body, out); st != http.StatusCreated {
			t.Fatalf("create %s's item: %d", owner, st)
		}
	}

	var pages []notify.WebhookPayload
	slowly(t, "bob's page delivered", func() bool {
		n, err := c.Notifications(ctx, "INC-1")
		pages, _ = hook.received()
		return err == nil && len(n.Notifications) == 1 && n.Notifications[0].Status == notify.StatusSent && len(pages) == 1
	})
	p := pages[0]
	ai := p.Page.ActionItem
	if p.Type != "page" || ai == nil || ai.ID != item.ID || ai.Title != "Alert on disk growth" || ai.Owner != "bob" || ai.Due != due ||
		ai.TrackerURL != "https://tracker.example.com/OPS-118" || ai.OverdueHours < 48 || p.Page.User != "bob" ||
		p.Page.IncidentID != inc.ID || p.Page.Number != 1 || !strings.Contains(p.Summary, "Overdue action item of INC-1: Alert on disk growth") ||
		p.IdempotencyKey != "action-item/"+item.ID+"/"+due+"/bob/pager-hook|webhook" {
		t.Fatalf("page %+v (action item %+v)", p, ai)
	}
	slowly(t, "ghost's page suppressed", func() bool {
		for _, e := range rec.envelopes(events.TypePageSuppressed) {
			var s events.PageSuppressed
			if e.DecodeData(&s) == nil && s.ActionItem == ghost.ID && s.Reason == events.SuppressedUnknownUser && s.User == "ghost" {
				return true
			}
		}
		return false
	})
	got, err := a.Postmortem.Store().ActionItemGet(ctx, item.ID)
	if err != nil || got.PagedAt == nil {
		t.Fatalf("bob's item after the page: %+v %v", got, err)
	}
	// An edit of the paged item pages nobody again.
	if st := bearerJSON(t, http.MethodPatch, a.HTTPURL()+"/api/v1/action-items/"+item.ID, a.Token(), `{"title":"Alert on disk growth rate"}`, nil); st != http.StatusOK {
		t.Fatalf("edit: %d", st)
	}
	ghostGot, err := a.Postmortem.Store().ActionItemGet(ctx, ghost.ID)
	if err != nil || ghostGot.PagedAt == nil {
		t.Fatalf("ghost's item: %+v %v", ghostGot, err)
	}
	if n := len(rec.envelopes(events.TypeActionItemPageDue)); n != 2 {
		t.Fatalf("%d action_item.page_due events, want one per item", n)
	}
	if pages, bad := hook.received(); len(pages) != 1 || bad != 0 {
		t.Fatalf("%d pages delivered, %d refused", len(pages), bad)
	}
	rec.validate(t)
}
