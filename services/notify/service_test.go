package notify_test

import (
	"context"
	"errors"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/db/dbtest"
	"github.com/firebreak-dev/firebreak/internal/outbox"
	outboxpg "github.com/firebreak-dev/firebreak/internal/outbox/postgres"
	outboxsqlite "github.com/firebreak-dev/firebreak/internal/outbox/sqlite"
	"github.com/firebreak-dev/firebreak/schemas"
	"github.com/firebreak-dev/firebreak/services/notify"
	"github.com/firebreak-dev/firebreak/services/notify/store/postgres"
	"github.com/firebreak-dev/firebreak/services/notify/store/sqlite"
)

type pending interface {
	Pending(ctx context.Context, limit int) ([]outbox.Record, error)
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// incID is the incident the harness pages for (number 42).
const incID = "0195f3a2-7c4e-7b3a-9d2e-6f1a2b3c4d5e"

type engine struct {
	name string
	open func(t *testing.T, now func() time.Time) (notify.Store, pending)
}

var engines = []engine{
	{"sqlite", func(t *testing.T, now func() time.Time) (notify.Store, pending) {
		d := dbtest.SQLite(t, "outbox", "timer", "notify")
		return sqlite.New(d, now), outboxsqlite.New(d)
	}},
	{"postgres", func(t *testing.T, now func() time.Time) (notify.Store, pending) {
		pool, _ := dbtest.Postgres(t, "outbox", "timer", "notify")
		return postgres.New(pool, now), outboxpg.New(pool)
	}},
}

// harness drives the service as the bus and a timer runner would, on a
// fake clock, with the real webhook provider posting to a hookServer.
type harness struct {
	t     *testing.T
	store notify.Store
	svc   *notify.Service
	out   pending
	clock *clock
	hook  *hookServer
}

func each(t *testing.T, cfg notify.Config, extra []notify.Provider, f func(t *testing.T, h *harness)) {
	t.Helper()
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			c := &clock{t: t0}
			store, out := e.open(t, c.Now)
			hs := newHookServer(t, "whsec")
			cfg := cfg
			cfg.Now = c.Now
			cfg.WebhookSecret = "whsec"
			if cfg.Jitter == nil {
				cfg.Jitter = func() float64 { return 0.5 }
			}
			providers := append([]notify.Provider{notify.NewWebhook(nil, "whsec", nil, c.Now)}, extra...)
			svc, err := notify.New(store, providers, nil, cfg)
			if err != nil {
				t.Fatal(err)
			}
			h := &harness{t: t, store: store, svc: svc, out: out, clock: c, hook: hs}
			t.Cleanup(h.validate)
			f(t, h)
		})
	}
}

func (h *harness) page(key, typ, addr string) events.Envelope {
	p := events.PageRequested{IncidentID: incID, Number: 42, Title: "Disk full", Severity: "SEV1", Service: "checkout",
		Level: 1, Policy: "web", Target: events.PageTarget{Type: "user", ID: "alice"}, User: "alice",
		ContactMethod: &events.PageContact{Name: typ + "-1", Type: typ, Address: addr}, RuleDelayMinutes: 0, IdempotencyKey: key}
	return events.MustNew(events.TypePageRequested, "escalation", incID, events.System("escalation"), p)
}

func (h *harness) deliver(env events.Envelope) {
	h.t.Helper()
	if err := h.svc.HandlePage(context.Background(), env); err != nil {
		h.t.Fatalf("handle page: %v", err)
	}
}

// fireDue fires every timer due by the fake clock, as a runner would.
func (h *harness) fireDue() int {
	h.t.Helper()
	fired := 0
	for range 100 {
		ts, err := h.store.Timers().ClaimDue(context.Background(), h.clock.Now(), 100, "test", time.Minute)
		if err != nil {
			h.t.Fatal(err)
		}
		if len(ts) == 0 {
			return fired
		}
		for _, tm := range ts {
			fired++
			if err := h.svc.HandleTimer(context.Background(), tm); err != nil {
				h.t.Fatalf("fire %s/%s: %v", tm.Kind, tm.Key, err)
			}
		}
	}
	h.t.Fatal("timers keep coming due")
	return fired
}

func (h *harness) emitted() []events.Envelope {
	h.t.Helper()
	recs, err := h.out.Pending(context.Background(), 1000)
	if err != nil {
		h.t.Fatal(err)
	}
	out := make([]events.Envelope, len(recs))
	for i, r := range recs {
		if out[i], err = events.Decode(r.Payload); err != nil {
			h.t.Fatal(err)
		}
	}
	return out
}

func (h *harness) validate() {
	v, err := schemas.NewValidator()
	if err != nil {
		h.t.Fatal(err)
	}
	recs, err := h.out.Pending(context.Background(), 1000)
	if err != nil {
		h.t.Fatal(err)
	}
	for _, r := range recs {
		if err := v.Validate(r.Payload); err != nil {
			h.t.Errorf("emitted event does not match its schema: %v\n%s", err, r.Payload)
		}
	}
}

func (h *harness) delivery(key string) notify.Delivery {
	h.t.Helper()
	d, err := h.store.DeliveryGet(context.Background(), key)
	if err != nil {
		h.t.Fatal(err)
	}
	return d
}

func types(envs []events.Envelope) []string {
	var out []string
	for _, e := range envs {
		out = append(out, e.Type)
	}
	return out
}

func TestRedeliveredPageSendsOnce(t *testing.T) {
	t.Parallel()
	each(t, notify.Config{}, nil, func(t *testing.T, h *harness) {
		env := h.page("inc-1/1/alice/hook", "webhook", h.hook.URL)
		h.deliver(env)
		h.deliver(env) // JetStream redelivery
		again := h.page("inc-1/1/alice/hook", "webhook", h.hook.URL)
		h.deliver(again) // the same page in a new envelope
		if n := h.fireDue(); n != 1 {
			t.Fatalf("%d timers fired, want 1", n)
		}
		h.deliver(env)
		h.fireDue()
		if n := len(h.hook.requests()); n != 1 {
			t.Fatalf("webhook received %d requests, want 1", n)
		}
		d := h.delivery("inc-1/1/alice/hook|webhook")
		if d.Status != notify.StatusSent || d.Attempts != 1 || !d.SentAt.Equal(t0) || d.EventID != env.ID {
			t.Fatalf("delivery %+v", d)
		}
		got := h.emitted()
		if len(got) != 1 || got[0].Type != events.TypeNotificationSent || got[0].CausationID != env.ID ||
			got[0].CorrelationID != env.CorrelationID || got[0].Subject != incID {
			t.Fatalf("emitted %+v", got)
		}
		var sent events.NotificationSent
		_ = got[0].DecodeData(&sent)
		if sent.Provider != "webhook" || sent.User != "alice" || sent.ContactMethod != "webhook-1" || sent.Attempts != 1 ||
			sent.PageKey != "inc-1/1/alice/hook" || sent.DeliveryKey != "inc-1/1/alice/hook|webhook" {
			t.Fatalf("notification.sent %+v", sent)
		}
		if r := h.hook.requests()[0]; !r.verified && r.header.Get(notify.HeaderSignature) == "" {
			t.Fatal("webhook not signed")
		}
	})
}

func TestRetryWithBackoffThenSent(t *testing.T) {
	t.Parallel()
	each(t, notify.Config{BackoffMin: 4 * time.Second, BackoffMax: time.Minute}, nil, func(t *testing.T, h *harness) {
		h.hook.answer(http.StatusServiceUnavailable, http.StatusBadGateway)
		h.deliver(h.page("k", "webhook", h.hook.URL))
		h.fireDue()
		d := h.delivery("k|webhook")
		// Jitter 0.5: half of 4s plus half of the other half.
		if d.Status != notify.StatusRetrying || d.Attempts != 1 || !d.NextAttemptAt.Equal(t0.Add(3*time.Second)) ||
			!strings.Contains(d.Reason, "503") {
			t.Fatalf("after attempt 1: %+v", d)
		}
		h.clock.Add(2 * time.Second)
		if n := h.fireDue(); n != 0 {
			t.Fatalf("retry fired before its backoff: %d", n)
		}
		h.clock.Add(time.Second)
		h.fireDue()
		d = h.delivery("k|webhook")
		if d.Status != notify.StatusRetrying || d.Attempts != 2 || !d.NextAttemptAt.Equal(h.clock.Now().Add(6*time.Second)) {
			t.Fatalf("after attempt 2 (backoff doubles): %+v", d)
		}
		h.clock.Add(6 * time.Second)
		h.fireDue()
		d = h.delivery("k|webhook")
		if d.Status != notify.StatusSent || d.Attempts != 3 || d.Reason != "" {
			t.Fatalf("after attempt 3: %+v", d)
		}
		reqs := h.hook.requests()
		if len(reqs) != 3 || reqs[0].header.Get("Idempotency-Key") != reqs[2].header.Get("Idempotency-Key") {
			t.Fatalf("%d requests; every attempt carries the same Idempotency-Key", len(reqs))
		}
		if got := types(h.emitted()); len(got) != 1 || got[0] != events.TypeNotificationSent {
			t.Fatalf("emitted %v", got)
		}
	})
}

func TestRateLimitWaitsRetryAfter(t *testing.T) {
	t.Parallel()
	each(t, notify.Config{BackoffMin: time.Second}, nil, func(t *testing.T, h *harness) {
		h.hook.answer(http.StatusTooManyRequests)
		h.deliver(h.page("k", "webhook", h.hook.URL))
		h.fireDue()
		if d := h.delivery("k|webhook"); d.Status != notify.StatusRetrying || !d.NextAttemptAt.Equal(t0.Add(7*time.Second)) {
			t.Fatalf("429 with Retry-After 7: %+v", d)
		}
	})
}

func TestPermanentFailureAndMaxAttempts(t *testing.T) {
	t.Parallel()
	each(t, notify.Config{MaxAttempts: 3, BackoffMin: time.Second, BackoffMax: time.Second}, nil, func(t *testing.T, h *harness) {
		h.hook.answer(http.StatusGone)
		h.deliver(h.page("gone", "webhook", h.hook.URL+"/gone"))
		h.fireDue()
		d := h.delivery("gone|webhook")
		if d.Status != notify.StatusFailed || d.Attempts != 1 || !strings.Contains(d.Reason, "410 Gone") || !strings.Contains(d.Reason, "1 attempt") {
			t.Fatalf("410: %+v", d)
		}

		h.hook.answer(500, 500, 500, 500)
		h.deliver(h.page("flaky", "webhook", h.hook.URL+"/flaky"))
		for range 5 {
			h.fireDue()
			h.clock.Add(time.Second)
		}
		d = h.delivery("flaky|webhook")
		if d.Status != notify.StatusFailed || d.Attempts != 3 || !strings.Contains(d.Reason, "3 attempts") {
			t.Fatalf("after max attempts: %+v", d)
		}
		if n := len(h.hook.requests()); n != 4 {
			t.Fatalf("%d requests, want 1 + 3", n)
		}
		got := h.emitted()
		if len(got) != 2 || got[0].Type != events.TypeNotificationFailed || got[1].Type != events.TypeNotificationFailed {
			t.Fatalf("emitted %v", types(got))
		}
		var f events.NotificationFailed
		_ = got[1].DecodeData(&f)
		if f.Attempts != 3 || f.Reason != d.Reason || f.User != "alice" || f.Level != 1 || f.PageKey != "flaky" {
			t.Fatalf("notification.failed %+v", f)
		}
	})
}

func TestUnsupportedContactMethods(t *testing.T) {
	t.Parallel()
	each(t, notify.Config{}, nil, func(t *testing.T, h *harness) {
		h.deliver(h.page("sms", "sms", "+4915112345678"))
		h.deliver(h.page("mail", "email", "alice@example.com")) // no SMTP configured
		h.deliver(h.page("dm", "slack", "U123"))                // no Slack token
		if n := h.fireDue(); n != 0 {
			t.Fatalf("%d attempts of undeliverable pages", n)
		}
		for key, want := range map[string]string{
			"sms|sms":    `unsupported: contact method type "sms" is not delivered`,
			"mail|email": "unsupported: email is not configured",
			"dm|slack":   "unsupported: Slack is not configured",
		} {
			if d := h.delivery(key); d.Status != notify.StatusFailed || d.Attempts != 0 || !strings.HasPrefix(d.Reason, want) {
				t.Errorf("%s: %+v, want failed %q", key, d, want)
			}
		}
		if got := types(h.emitted()); len(got) != 3 {
			t.Fatalf("emitted %v, want 3 notification.failed", got)
		}
		if len(h.hook.requests()) != 0 {
			t.Fatal("something was sent")
		}
	})
}

// goexitProvider stops the goroutine running the attempt, the way a crash
// stops a process: nothing after the call runs.
type goexitProvider struct{}

func (goexitProvider) Name() string { return events.ProviderTeams }
func (goexitProvider) Send(context.Context, notify.Message) error {
	runtime.Goexit()
	return nil
}

// TestInterruptedAttemptIsRetried: a process that dies during an attempt
// leaves the delivery "sending"; its watchdog timer fires after the send
// timeout and the delivery is attempted again (at least once, see ADR 0007).
func TestInterruptedAttemptIsRetried(t *testing.T) {
	t.Parallel()
	each(t, notify.Config{SendTimeout: 10 * time.Second}, []notify.Provider{goexitProvider{}}, func(t *testing.T, h *harness) {
		h.deliver(h.page("k", "teams", h.hook.URL))
		ts, err := h.store.Timers().ClaimDue(context.Background(), h.clock.Now(), 10, "dying", time.Minute)
		if err != nil || len(ts) != 1 {
			t.Fatalf("claim %v %v", ts, err)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = h.svc.HandleTimer(context.Background(), ts[0])
		}()
		<-done
		if d := h.delivery("k|teams"); d.Status != notify.StatusSending || d.Attempts != 1 {
			t.Fatalf("after the crash: %+v", d)
		}
		h.clock.Add(39 * time.Second)
		if n := h.fireDue(); n != 0 {
			t.Fatal("watchdog fired before send timeout + grace")
		}
		// The next attempt runs on a process whose Teams provider works.
		svc, err := notify.New(h.store, []notify.Provider{notify.NewTeams(nil)}, nil, notify.Config{Now: h.clock.Now, SendTimeout: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		h.svc = svc
		h.clock.Add(time.Second)
		h.fireDue()
		if d := h.delivery("k|teams"); d.Status != notify.StatusSent || d.Attempts != 2 {
			t.Fatalf("after the watchdog: %+v", d)
		}
		if n := len(h.hook.requests()); n != 1 {
			t.Fatalf("%d requests", n)
		}
	})
}

func TestInvalidPageIsPermanent(t *testing.T) {
	t.Parallel()
	c := &clock{t: t0}
	store := sqlite.New(dbtest.SQLite(t, "outbox", "timer", "notify"), c.Now)
	svc, err := notify.New(store, nil, nil, notify.Config{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	bad := events.MustNew(events.TypePageRequested, "escalation", "x", events.System("escalation"), map[string]any{"incident_id": 7})
	if err := svc.HandlePage(context.Background(), bad); !errors.Is(err, notify.ErrInvalid) {
		t.Fatalf("undecodable page: %v, want ErrInvalid", err)
	}
	empty := events.MustNew(events.TypePageRequested, "escalation", "x", events.System("escalation"), events.PageRequested{})
	if err := svc.HandlePage(context.Background(), empty); !errors.Is(err, notify.ErrInvalid) {
		t.Fatalf("page without incident: %v, want ErrInvalid", err)
	}
	if _, err := notify.New(store, nil, nil, notify.Config{MaxAttempts: -1}); err == nil {
		t.Fatal("negative max attempts accepted")
	}
}
