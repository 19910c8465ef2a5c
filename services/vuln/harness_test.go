package vuln_test

import (
	"context"
	"database/sql"
	"sync"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/db/dbtest"
	outboxsqlite "github.com/firebreak-dev/firebreak/internal/outbox/sqlite"
	"github.com/firebreak-dev/firebreak/schemas"
	"github.com/firebreak-dev/firebreak/services/vuln"
	"github.com/firebreak-dev/firebreak/services/vuln/policy"
	vulnsqlite "github.com/firebreak-dev/firebreak/services/vuln/store/sqlite"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

type harness struct {
	t     *testing.T
	db    *sql.DB
	store *vulnsqlite.Store
	svc   *vuln.Service
	clock *clock
	seen  int // outbox records already returned by newEvents
}

var alice = events.Actor{Kind: events.ActorUser, ID: "alice", Name: "Alice", Channel: events.ChannelAPI}

func newHarness(t *testing.T, mod func(*vuln.Config)) *harness {
	t.Helper()
	d := dbtest.SQLite(t, "outbox", "timer", "vuln")
	c := &clock{t: t0}
	st := vulnsqlite.New(d, c.Now)
	cfg := vuln.Config{Now: c.Now}
	if mod != nil {
		mod(&cfg)
	}
	svc, err := vuln.New(st, nil, cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, db: d, store: st, svc: svc, clock: c}
	for _, p := range []vuln.Product{{Name: "web", Hosting: policy.Cloud, Service: "checkout"}, {Name: "server", Hosting: policy.DataCenter, Service: "dc"}} {
		if _, err := svc.PutProduct(context.Background(), p); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

// events returns every envelope in the outbox, each validated against its
// JSON Schema.
func (h *harness) events() []events.Envelope {
	h.t.Helper()
	recs, err := outboxsqlite.New(h.db).Pending(context.Background(), 1_000_000)
	if err != nil {
		h.t.Fatal(err)
	}
	val, err := schemas.NewValidator()
	if err != nil {
		h.t.Fatal(err)
	}
	out := make([]events.Envelope, 0, len(recs))
	for _, r := range recs {
		if err := val.Validate(r.Payload); err != nil {
			h.t.Fatalf("event fails its schema: %v\n%s", err, r.Payload)
		}
		e, err := events.Decode(r.Payload)
		if err != nil {
			h.t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

// newEvents returns the envelopes written since the last call.
func (h *harness) newEvents() []events.Envelope {
	all := h.events()
	out := all[h.seen:]
	h.seen = len(all)
	return out
}

func types(envs []events.Envelope) []string {
	out := make([]string, len(envs))
	for i, e := range envs {
		out[i] = e.Type
	}
	return out
}

// fire runs every timer due at the clock's now and returns how many fired.
func (h *harness) fire() int {
	h.t.Helper()
	ctx := context.Background()
	ts, err := h.store.Timers().ClaimDue(ctx, h.clock.Now(), 1000, "test", time.Minute)
	if err != nil {
		h.t.Fatal(err)
	}
	for _, tm := range ts {
		if err := h.svc.HandleTimer(ctx, tm); err != nil {
			h.t.Fatal(err)
		}
	}
	return len(ts)
}

func (h *harness) create(n vuln.NewVuln) vuln.Vuln {
	h.t.Helper()
	if n.Product == "" {
		n.Product = "web"
	}
	if n.Title == "" {
		n.Title = "SQL injection in search"
	}
	v, err := h.svc.Create(context.Background(), n, alice)
	if err != nil {
		h.t.Fatal(err)
	}
	return v
}
