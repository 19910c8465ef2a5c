package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/bus"
	"github.com/firebreak-dev/firebreak/internal/client"
	"github.com/firebreak-dev/firebreak/internal/token"
	"github.com/firebreak-dev/firebreak/services/intake"
	"github.com/firebreak-dev/firebreak/services/notify"
)

// statusHook is a subscriber's webhook endpoint: it checks firebreak's
// signature and records the status updates it receives.
type statusHook struct {
	mu       sync.Mutex
	titles   []string
	unsigned int
}

func (h *statusHook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	if notify.Verify("whsec-subs", r.Header.Get(notify.HeaderSignature), body, time.Now(), 5*time.Minute) != nil {
		h.unsigned++
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var p notify.NoticePayload
	_ = json.Unmarshal(body, &p)
	var u events.StatusUpdatePublished
	_ = json.Unmarshal(p.Data, &u)
	h.titles = append(h.titles, u.Title)
	w.WriteHeader(http.StatusNoContent)
}

func (h *statusHook) got() ([]string, int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.titles...), h.unsigned
}

// TestSubscribersEndToEnd: a published external status update reaches
// two webhook subscribers once each, even when its event is delivered
// again; an internal update reaches nobody; after one subscriber follows
// its unsubscribe link, the next update reaches only the other. The
// author of an update cannot approve it.
func TestSubscribersEndToEnd(t *testing.T) {
	t.Parallel()
	cfg := devConfig(t.TempDir())
	cfg.Notify.WebhookSecret = "whsec-subs"
	cfg.Notify.SubscriberSecret = "subscriber-secret-e2e"
	a := start(t, cfg)
	rec := record(t, a.NATSConn())
	ctx := context.Background()
	c := client.New(a.HTTPURL(), a.Token(), "cli")

	do := func(method, path, secret, body string) (int, map[string]any) {
		t.Helper()
		var r io.Reader
		if body != "" {
			r = strings.NewReader(body)
		}
		req, _ := http.NewRequest(method, a.HTTPURL()+path, r)
		if secret != "" {
			req.Header.Set("Authorization", "Bearer "+secret)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}

	hooks := []*statusHook{{}, {}}
	var links []string
	for i, h := range hooks {
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		st, out := do(http.MethodPost, "/api/v1/subscribers", a.Token(),
			`{"kind":"webhook","address":"`+srv.URL+`/status","topics":["status"],"service":"checkout"}`)
		if st != http.StatusCreated {
			t.Fatalf("subscriber %d: %d %v", i, st, out)
		}
		links = append(links, out["unsubscribe_url"].(string))
	}
	// Another service's subscriber hears nothing of checkout.
	other := &statusHook{}
	otherSrv := httptest.NewServer(other)
	t.Cleanup(otherSrv.Close)
	if st, out := do(http.MethodPost, "/api/v1/subscribers", a.Token(),
		`{"kind":"webhook","address":"`+otherSrv.URL+`/status","topics":["status"],"service":"search"}`); st != http.StatusCreated {
		t.Fatalf("search subscriber: %d %v", st, out)
	}

	if _, err := c.SendAlert(ctx, intake.Alert{Service: "checkout", DedupKey: "5xx", Summary: "5xx above 5%", Severity: "critical"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the projection", func() bool { _, err := c.TimelineJSON(ctx, "INC-1"); return err == nil })
	dave, err := c.CreateToken(ctx, token.Spec{User: "dave", Scopes: []string{token.ScopeIncidentsRead, token.ScopeIncidentsWrite, token.ScopeCommsApprove}})
	if err != nil {
		t.Fatal(err)
	}
	publish := func(audience, title string) {
		t.Helper()
		st, u := do(http.MethodPost, "/api/v1/incidents/INC-1/status-updates", dave.Secret,
			`{"audience":"`+audience+`","status":"investigating","title":"`+title+`","body":"We are looking into it."}`)
		if st != http.StatusCreated {
			t.Fatalf("draft: %d %v", st, u)
		}
		id, _ := u["id"].(string)
		// dave drafted it: he cannot approve it, even with comms:approve.
		if st, out := do(http.MethodPost, "/api/v1/status-updates/"+id+"/approve", dave.Secret, ""); st != http.StatusForbidden ||
			!strings.Contains(out["error"].(map[string]any)["code"].(string), "self_approval") {
			t.Fatalf("self-approval: %d %v", st, out)
		}
		for _, step := range []string{"approve", "publish"} {
			if st, out := do(http.MethodPost, "/api/v1/status-updates/"+id+"/"+step, a.Token(), ""); st != 200 {
				t.Fatalf("%s: %d %v", step, st, out)
			}
		}
	}

	publish("external", "Slow checkout")
	publish("internal", "INTERNAL: db1 disk")
	slowly(t, "the update at both subscribers", func() bool {
		a, _ := hooks[0].got()
		b, _ := hooks[1].got()
		return len(a) == 1 && len(b) == 1
	})

	// Deliver the published event again, as JetStream would after a lost
	// acknowledgement (a new message id, so the stream keeps it).
	var ext events.Envelope
	slowly(t, "status_update.published on the bus", func() bool {
		for _, e := range rec.envelopes(events.TypeStatusUpdatePublished) {
			var u events.StatusUpdatePublished
			if e.DecodeData(&u) == nil && u.Audience == "external" {
				ext = e
				return true
			}
		}
		return false
	})
	js, err := jetstream.New(a.NATSConn())
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := ext.Encode()
	if _, err := js.Publish(ctx, events.SubjectFor(ext.Type), raw, jetstream.WithMsgID("redelivery-"+ext.ID)); err != nil {
		t.Fatal(err)
	}
	slowly(t, "notify consumed the redelivery", func() bool {
		cons, err := js.Consumer(ctx, bus.StreamEvt, notify.ConsumerPublished)
		if err != nil {
			return false
		}
		info, err := cons.Info(ctx)
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0 && info.Delivered.Consumer >= 3
	})
	// The first subscriber unsubscribes through its link; the next update
	// reaches only the second.
	u, _ := url.Parse(links[0])
	if st, _ := do(http.MethodPost, "/unsubscribe?token="+url.QueryEscape(u.Query().Get("token")), "", ""); st != 200 {
		t.Fatalf("unsubscribe: %d", st)
	}
	publish("external", "Fixed")
	slowly(t, "the second update at the second subscriber", func() bool {
		b, _ := hooks[1].got()
		return len(b) == 2
	})
	a0, bad0 := hooks[0].got()
	a1, bad1 := hooks[1].got()
	if strings.Join(a0, "|") != "Slow checkout" || strings.Join(a1, "|") != "Slow checkout|Fixed" || bad0+bad1 != 0 {
		t.Fatalf("subscriber 0 got %q (%d unsigned), subscriber 1 got %q (%d unsigned)", a0, bad0, a1, bad1)
	}
	if o, _ := other.got(); len(o) != 0 {
		t.Fatalf("the search subscriber got %q", o)
	}
	// The incident lists the three deliveries to subscribers, sent, by
	// target and never by address.
	slowly(t, "three subscriber deliveries recorded as sent", func() bool {
		n, err := c.Notifications(ctx, "INC-1")
		if err != nil {
			return false
		}
		sent := 0
		for _, d := range n.Notifications {
			if strings.HasPrefix(d.Target, "subscriber:") && d.Status == notify.StatusSent {
				sent++
			}
		}
		return sent == 3
	})
	rec.validate(t)
}
