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

	"github.com/nats-io/nats.go/jetstream"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/app"
	"github.com/firebreak-dev/firebreak/internal/bus"
	"github.com/firebreak-dev/firebreak/internal/client"
	"github.com/firebreak-dev/firebreak/internal/slackfake"
	"github.com/firebreak-dev/firebreak/services/escalation"
	"github.com/firebreak-dev/firebreak/services/incident"
	"github.com/firebreak-dev/firebreak/services/intake"
	"github.com/firebreak-dev/firebreak/services/notify"
)

// pageHook is a user's webhook endpoint: it checks firebreak's signature,
// counts deliveries per Idempotency-Key and refuses pages of the incident
// numbers in gone with 410.
type pageHook struct {
	mu       sync.Mutex
	byKey    map[string]int
	unsigned int
	gone     map[int64]bool
}

func (h *pageHook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var p notify.WebhookPayload
	_ = json.Unmarshal(body, &p)
	h.mu.Lock()
	defer h.mu.Unlock()
	if notify.Verify("whsec-e2e", r.Header.Get(notify.HeaderSignature), body, time.Now(), 5*time.Minute) != nil {
		h.unsigned++
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	h.byKey[r.Header.Get(notify.HeaderIdempotencyKey)]++
	if h.gone[p.Page.Number] {
		http.Error(w, "this endpoint is gone", http.StatusGone)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *pageHook) counts() (map[string]int, int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string]int{}
	for k, v := range h.byKey {
		out[k] = v
	}
	return out, h.unsigned
}

// TestNotifyEndToEnd: an alert pages alice by signed webhook and #ops in
// Slack; redelivering the page.requested (the same message, and the same
// page in a new envelope) sends nothing more; a page whose webhook answers
// 410 fails, notification.failed makes the escalation service send alice's
// next notification rule (a Slack DM, found by her email) at once, and the
// API lists every delivery.
func TestNotifyEndToEnd(t *testing.T) {
	t.Parallel()
	fake := slackfake.New(t, slackfake.Config{})
	alice := fake.AddUser(slackfake.User{Name: "alice", Email: "alice@example.com"})
	ops := fake.AddChannel("ops")
	hook := &pageHook{byKey: map[string]int{}, gone: map[int64]bool{2: true}}
	hs := httptest.NewServer(hook)
	t.Cleanup(hs.Close)

	cfg := devConfig(t.TempDir())
	cfg.Slack = app.SlackConfig{BotToken: fake.Token, SigningSecret: "e2e-signing-secret", APIURL: fake.APIURL}
	cfg.Notify.WebhookSecret = "whsec-e2e"
	a := start(t, cfg)
	rec := record(t, a.NATSConn())
	ctx := context.Background()
	c := client.New(a.HTTPURL(), a.Token(), "cli")

	conf := escalation.Config{
		Services: []escalation.ServiceConfig{{Name: "checkout", EscalationPolicy: "web"}},
		Users: []escalation.User{{ID: "alice", Email: "alice@example.com",
			ContactMethods: []escalation.ContactMethod{
				{Name: "pager-hook", Type: escalation.ContactWebhook, Address: hs.URL + "/alice"},
				{Name: "slack", Type: escalation.ContactSlack, Address: "alice@example.com"},
			},
			NotificationRules: []escalation.NotificationRule{
				{ContactMethod: "pager-hook", DelayMinutes: 0},
				{ContactMethod: "slack", DelayMinutes: 10},
			}}},
		Policies: []escalation.Policy{{Name: "web", Levels: []escalation.Level{
			{DelayMinutes: 30, Targets: []escalation.Target{
				{Type: escalation.TargetUser, ID: "alice"}, {Type: escalation.TargetSlackChannel, ID: "#ops"},
			}},
		}}},
	}
	if _, err := a.Escalation.ApplyConfig(ctx, conf, events.Actor{Kind: events.ActorUser, ID: "admin"}, false); err != nil {
		t.Fatal(err)
	}

	// INC-1: the webhook and the channel post are delivered once each.
	if _, err := c.SendAlert(ctx, intake.Alert{Service: "checkout", DedupKey: "5xx", Summary: "5xx above 5%", Severity: "critical"}); err != nil {
		t.Fatal(err)
	}
	inc1 := waitIncident(t, c, "INC-1", func(incident.IncidentJSON) bool { return true })
	slowly(t, "INC-1 delivered", func() bool {
		n, err := c.Notifications(ctx, "INC-1")
		return err == nil && len(n.Notifications) == 2 &&
			n.Notifications[0].Status == notify.StatusSent && n.Notifications[1].Status == notify.StatusSent
	})
	if m := fake.Messages(ops); len(m) != 1 || !strings.Contains(m[0].Text, "INC-1 5xx above 5%") {
		t.Fatalf("#ops: %+v", m)
	}

	// Redeliver alice's page: the very message, and the page in a new envelope.
	var page events.Envelope
	slowly(t, "alice's page on the bus", func() bool {
		for _, e := range rec.envelopes(events.TypePageRequested) {
			var p events.PageRequested
			if e.DecodeData(&p) == nil && p.User == "alice" && p.IncidentID == inc1.ID {
				page = e
				return true
			}
		}
		return false
	})
	js, err := jetstream.New(a.NATSConn())
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := page.Encode()
	if _, err := js.Publish(ctx, events.SubjectFor(page.Type), raw, jetstream.WithMsgID("redelivery-1")); err != nil {
		t.Fatal(err)
	}
	var p events.PageRequested
	_ = page.DecodeData(&p)
	copyEnv := events.MustNew(page.Type, "escalation", page.Subject, page.Actor, p)
	raw, _ = copyEnv.Encode()
	if _, err := js.Publish(ctx, events.SubjectFor(page.Type), raw, jetstream.WithMsgID(copyEnv.ID)); err != nil {
		t.Fatal(err)
	}
	slowly(t, "notify consumed the redeliveries", func() bool {
		cons, err := js.Consumer(ctx, bus.StreamEvt, notify.ConsumerPages)
		if err != nil {
			return false
		}
		info, err := cons.Info(ctx)
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0 && info.Delivered.Consumer >= 4
	})

	// INC-2: alice's webhook answers 410; her Slack rule goes out at once.
	if _, err := c.SendAlert(ctx, intake.Alert{Service: "checkout", DedupKey: "latency", Summary: "p99 above 2s", Severity: "critical"}); err != nil {
		t.Fatal(err)
	}
	slowly(t, "Slack DM to alice", func() bool { return fake.DM(alice.ID) != "" && len(fake.Messages(fake.DM(alice.ID))) == 1 })
	if m := fake.Messages(fake.DM(alice.ID))[0]; !strings.Contains(m.Text, "INC-2 p99 above 2s") {
		t.Fatalf("DM %+v", m)
	}
	if calls := fake.Calls("users.lookupByEmail"); len(calls) != 1 || calls[0].Params.Get("email") != "alice@example.com" {
		t.Fatalf("users.lookupByEmail: %+v", calls)
	}
	var inc2 notify.DeliveriesJSON
	slowly(t, "INC-2 deliveries", func() bool {
		n, err := c.Notifications(ctx, "INC-2")
		inc2 = n
		return err == nil && len(n.Notifications) == 3 && countStatus(n, notify.StatusRetrying) == 0
	})
	byTarget := map[string]notify.DeliveryJSON{}
	for _, d := range inc2.Notifications {
		byTarget[d.Provider+" "+d.Target+" "+d.ContactMethod] = d
	}
	if d := byTarget["webhook user:alice pager-hook"]; d.Status != notify.StatusFailed || d.Attempts != 1 || !strings.Contains(d.Reason, "410 Gone") {
		t.Fatalf("failed webhook delivery %+v (all %+v)", d, inc2)
	}
	if d := byTarget["slack user:alice slack"]; d.Status != notify.StatusSent || d.Level != 1 {
		t.Fatalf("fall-through Slack delivery %+v (all %+v)", d, inc2)
	}
	if d := byTarget["slack channel:#ops "]; d.Status != notify.StatusSent {
		t.Fatalf("channel delivery %+v (all %+v)", d, inc2)
	}
	body, _ := json.Marshal(inc2)
	if strings.Contains(string(body), hs.URL) || strings.Contains(string(body), "alice@example.com") {
		t.Fatalf("the API shows a contact address: %s", body)
	}

	// Exactly once per page, however often the page was delivered.
	counts, unsigned := hook.counts()
	if unsigned != 0 || len(counts) != 2 {
		t.Fatalf("webhook deliveries %v, %d unsigned", counts, unsigned)
	}
	for k, n := range counts {
		if n != 1 {
			t.Fatalf("webhook %s delivered %d times", k, n)
		}
	}
	// The slack service (on: it has a bot token) posts incident messages to
	// its own channel; count only the pages' posts.
	pagePosts := 0
	for _, call := range fake.Calls("chat.postMessage") {
		if ch := call.Params.Get("channel"); ch == ops || ch == "#ops" || ch == fake.DM(alice.ID) {
			pagePosts++
		}
	}
	if pagePosts != 3 {
		t.Fatalf("%d chat.postMessage calls for pages, want 3 (#ops twice, alice once)", pagePosts)
	}
	slowly(t, "notification events on the bus", func() bool {
		return len(rec.envelopes(events.TypeNotificationSent)) == 4 && len(rec.envelopes(events.TypeNotificationFailed)) == 1
	})
	rec.validate(t)
}

// slowly is eventually with a deadline for the longest chains of this
// test (alert → incident → escalation → notify → escalation → notify →
// Slack), which under a loaded machine and -race take longer than the
// usual 15 s. It polls; it never sleeps for a result.
func slowly(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		if f() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func countStatus(n notify.DeliveriesJSON, s notify.Status) int {
	k := 0
	for _, d := range n.Notifications {
		if d.Status == s {
			k++
		}
	}
	return k
}

// envelopes returns the envelopes of type typ on the bus so far.
func (rec *recorder) envelopes(typ string) []events.Envelope {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var out []events.Envelope
	for _, m := range rec.msgs {
		if e, err := events.Decode(m.Data); err == nil && e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}
