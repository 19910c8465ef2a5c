package timertest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/internal/timer"
)

var errBoom = errors.New("boom")

const lease = 30 * time.Second

// Run runs the contract against the engines open returns; subtests run in
// parallel, each on its own database.
func Run(t *testing.T, open Open) {
	tests := []struct {
		name string
		fn   func(t *testing.T, open Open)
	}{
		{"ScheduleGetCancel", testScheduleGetCancel},
		{"ScheduleReplaces", testScheduleReplaces},
		{"ScheduleValidates", testScheduleValidates},
		{"ScheduleRolledBack", testScheduleRolledBack},
		{"CancelRolledBack", testCancelRolledBack},
		{"ClaimDueOnlyDueEarliestFirst", testClaimDue},
		{"ClaimHoldsUntilLeaseLapses", testClaimLease},
		{"FireOnce", testFireOnce},
		{"CancelledWhileClaimed", testCancelledWhileClaimed},
		{"ReplacedWhileClaimed", testReplacedWhileClaimed},
		{"ReclaimedAfterLease", testReclaimedAfterLease},
		{"EffectErrorCommitsNothing", testEffectError},
		{"Release", testRelease},
		{"EffectSchedulesNextStep", testEffectSchedulesNext},
		{"RunnerFiresWhenDueNotBefore", testRunnerFiresWhenDue},
		{"RunnerNotify", testRunnerNotify},
		{"RunnerRestart", testRunnerRestart},
		{"RunnerAfterCrash", testRunnerAfterCrash},
		{"RunnerRetriesFailures", testRunnerRetries},
		{"TwoRunnersRace", func(t *testing.T, open Open) { testTwoRunnersRace(t, open, false) }},
		{"TwoRunnersRaceLapsingLeases", func(t *testing.T, open Open) { testTwoRunnersRace(t, open, true) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open)
		})
	}
}

func ctxOf(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func one(t *testing.T, open Open) Engine { return open(t, 1)[0] }

func tm(kind, key string, due time.Time) timer.Timer {
	return timer.Timer{Kind: kind, Key: key, DueAt: due, Payload: []byte(`{"k":"` + key + `"}`), CreatedAt: Base}
}

func mustSchedule(t *testing.T, e Engine, ts ...timer.Timer) {
	t.Helper()
	if err := e.Schedule(ctxOf(t), false, ts...); err != nil {
		t.Fatal(err)
	}
}

func mustGet(t *testing.T, e Engine, kind, key string) timer.Timer {
	t.Helper()
	got, err := e.Get(ctxOf(t), kind, key)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func mustGone(t *testing.T, e Engine, kind, key string) {
	t.Helper()
	if got, err := e.Get(ctxOf(t), kind, key); !errors.Is(err, timer.ErrNotFound) {
		t.Fatalf("Get(%s, %s) = %+v, %v; want ErrNotFound", kind, key, got, err)
	}
}

func mustClaim(t *testing.T, e Engine, now time.Time, limit int, owner string) []timer.Timer {
	t.Helper()
	ts, err := e.ClaimDue(ctxOf(t), now, limit, owner, lease)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

func fired(t *testing.T, e Engine) int {
	t.Helper()
	n, err := e.Fired(ctxOf(t))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func keys(ts []timer.Timer) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Key
	}
	return out
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", within, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// startRunner runs a runner until the test ends or stop is called; stop
// returns once Run has returned.
func startRunner(t *testing.T, src timer.Source, h timer.Handler, cfg timer.Config) (r *timer.Runner, stop func()) {
	t.Helper()
	r, err := timer.New(src, h, nil, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Errorf("Run did not return within 30s of cancel")
			}
		})
	}
	t.Cleanup(stop)
	return r, stop
}

func testScheduleGetCancel(t *testing.T, open Open) {
	e := one(t, open)
	ctx := ctxOf(t)
	in := tm("ack-timeout", "inc-1", Base.Add(time.Minute))
	mustSchedule(t, e, in)
	got := mustGet(t, e, "ack-timeout", "inc-1")
	if got.ID == "" || !got.DueAt.Equal(in.DueAt) || string(got.Payload) != string(in.Payload) ||
		!got.CreatedAt.Equal(Base) || got.Attempts != 0 || got.ClaimedBy != "" || !got.ClaimedUntil.IsZero() || got.LastError != "" {
		t.Fatalf("Get = %+v; want %+v with a new id, unclaimed", got, in)
	}
	if ok, err := e.Cancel(ctx, false, "ack-timeout", "inc-1"); err != nil || !ok {
		t.Fatalf("Cancel = %v, %v; want true", ok, err)
	}
	mustGone(t, e, "ack-timeout", "inc-1")
	if ok, err := e.Cancel(ctx, false, "ack-timeout", "inc-1"); err != nil || ok {
		t.Fatalf("second Cancel = %v, %v; want false", ok, err)
	}
	// A nil payload is stored as empty.
	mustSchedule(t, e, timer.Timer{Kind: "snooze", Key: "inc-1", DueAt: Base})
	if got := mustGet(t, e, "snooze", "inc-1"); len(got.Payload) != 0 || got.CreatedAt.IsZero() {
		t.Fatalf("nil payload: Get = %+v", got)
	}
}

func testScheduleReplaces(t *testing.T, open Open) {
	e := one(t, open)
	mustSchedule(t, e, tm("escalate", "inc-1", Base.Add(time.Minute)))
	first := mustGet(t, e, "escalate", "inc-1")
	next := tm("escalate", "inc-1", Base.Add(5*time.Minute))
	next.Payload = []byte(`{"step":2}`)
	mustSchedule(t, e, next, tm("escalate", "inc-2", Base.Add(time.Minute)))
	got := mustGet(t, e, "escalate", "inc-1")
	if got.ID == first.ID || !got.DueAt.Equal(next.DueAt) || string(got.Payload) != `{"step":2}` {
		t.Fatalf("after replace Get = %+v; want new id, due %s, step 2", got, next.DueAt)
	}
	if ts := mustClaim(t, e, Base.Add(time.Hour), 10, "r"); !slices.Equal(keys(ts), []string{"inc-2", "inc-1"}) {
		t.Fatalf("claimed %v; want one timer per key, [inc-2 inc-1]", keys(ts))
	}
}

func testScheduleValidates(t *testing.T, open Open) {
	e := one(t, open)
	for _, bad := range []timer.Timer{
		{Key: "k", DueAt: Base},
		{Kind: "k", DueAt: Base},
		{Kind: "k", Key: "k"},
	} {
		if err := e.Schedule(ctxOf(t), false, bad); err == nil {
			t.Errorf("Schedule(%+v) = nil; want an error", bad)
		}
	}
}

func testScheduleRolledBack(t *testing.T, open Open) {
	e := one(t, open)
	if err := e.Schedule(ctxOf(t), true, tm("sla", "inc-1", Base)); err != nil {
		t.Fatal(err)
	}
	mustGone(t, e, "sla", "inc-1")
	if ts := mustClaim(t, e, Base.Add(time.Hour), 10, "r"); len(ts) != 0 {
		t.Fatalf("claimed %v after a rolled-back schedule", keys(ts))
	}
}

func testCancelRolledBack(t *testing.T, open Open) {
	e := one(t, open)
	mustSchedule(t, e, tm("sla", "inc-1", Base))
	if ok, err := e.Cancel(ctxOf(t), true, "sla", "inc-1"); err != nil || !ok {
		t.Fatalf("Cancel in tx = %v, %v; want true", ok, err)
	}
	mustGet(t, e, "sla", "inc-1")
}

func testClaimDue(t *testing.T, open Open) {
	e := one(t, open)
	// Scheduled out of order on purpose.
	mustSchedule(t, e,
		tm("k", "c", Base.Add(3*time.Second)),
		tm("k", "a", Base.Add(1*time.Second)),
		tm("k", "b", Base.Add(2*time.Second)),
		tm("k", "d", Base.Add(2*time.Second+time.Microsecond)),
	)
	if ts := mustClaim(t, e, Base, 10, "r"); len(ts) != 0 {
		t.Fatalf("claimed %v before anything was due", keys(ts))
	}
	now := Base.Add(2 * time.Second) // a and b due (due_at <= now), d a microsecond later
	ts := mustClaim(t, e, now, 10, "r")
	if !slices.Equal(keys(ts), []string{"a", "b"}) {
		t.Fatalf("claimed %v at +2s; want [a b]", keys(ts))
	}
	for _, c := range ts {
		if c.ClaimedBy != "r" || !c.ClaimedUntil.Equal(now.Add(lease)) {
			t.Fatalf("claimed timer %+v; want claimed by r until %s", c, now.Add(lease))
		}
	}
	if got := mustGet(t, e, "k", "a"); got.ClaimedBy != "r" {
		t.Fatalf("stored claim %q; want r", got.ClaimedBy)
	}
	if ts := mustClaim(t, e, Base.Add(10*time.Second), 1, "r2"); !slices.Equal(keys(ts), []string{"d"}) {
		t.Fatalf("claimed %v with limit 1; want the earliest unclaimed (a and b are leased), [d]", keys(ts))
	}
}

func testClaimLease(t *testing.T, open Open) {
	e := one(t, open)
	mustSchedule(t, e, tm("k", "a", Base))
	if ts := mustClaim(t, e, Base, 10, "r1"); len(ts) != 1 {
		t.Fatalf("first claim got %d timers; want 1", len(ts))
	}
	if ts := mustClaim(t, e, Base.Add(lease), 10, "r2"); len(ts) != 0 {
		t.Fatalf("claimed %v while the lease holds (until exactly now)", keys(ts))
	}
	ts := mustClaim(t, e, Base.Add(lease+time.Microsecond), 10, "r2")
	if len(ts) != 1 || ts[0].ClaimedBy != "r2" {
		t.Fatalf("claim after the lease lapsed = %+v; want a claimed by r2", ts)
	}
}

func testFireOnce(t *testing.T, open Open) {
	e := one(t, open)
	ctx := ctxOf(t)
	mustSchedule(t, e, tm("k", "a", Base))
	ts := mustClaim(t, e, Base, 10, "r")
	calls := 0
	effect := func(Tx) error { calls++; return nil }
	if err := e.Fire(ctx, ts[0], effect); err != nil {
		t.Fatal(err)
	}
	mustGone(t, e, "k", "a")
	if err := e.Fire(ctx, ts[0], effect); !errors.Is(err, timer.ErrGone) {
		t.Fatalf("second Fire = %v; want ErrGone", err)
	}
	if calls != 1 || fired(t, e) != 1 {
		t.Fatalf("effect ran %d times, %d committed; want 1, 1", calls, fired(t, e))
	}
	// An unclaimed timer cannot be fired.
	mustSchedule(t, e, tm("k", "b", Base))
	b := mustGet(t, e, "k", "b")
	if err := e.Fire(ctx, b, effect); !errors.Is(err, timer.ErrGone) {
		t.Fatalf("Fire of an unclaimed timer = %v; want ErrGone", err)
	}
}

func testCancelledWhileClaimed(t *testing.T, open Open) {
	e := one(t, open)
	ctx := ctxOf(t)
	mustSchedule(t, e, tm("ack-timeout", "inc-1", Base))
	ts := mustClaim(t, e, Base, 10, "r")
	if ok, err := e.Cancel(ctx, false, "ack-timeout", "inc-1"); err != nil || !ok {
		t.Fatalf("Cancel = %v, %v", ok, err)
	}
	called := false
	if err := e.Fire(ctx, ts[0], func(Tx) error { called = true; return nil }); !errors.Is(err, timer.ErrGone) {
		t.Fatalf("Fire of a cancelled timer = %v; want ErrGone", err)
	}
	if called || fired(t, e) != 0 {
		t.Fatalf("effect ran for a cancelled timer")
	}
	if err := e.Retry(ctx, ts[0], Base, "x"); !errors.Is(err, timer.ErrGone) {
		t.Fatalf("Retry of a cancelled timer = %v; want ErrGone", err)
	}
}

func testReplacedWhileClaimed(t *testing.T, open Open) {
	e := one(t, open)
	ctx := ctxOf(t)
	mustSchedule(t, e, tm("escalate", "inc-1", Base))
	old := mustClaim(t, e, Base, 10, "r")[0]
	mustSchedule(t, e, tm("escalate", "inc-1", Base.Add(time.Minute)))
	if err := e.Fire(ctx, old, nil); !errors.Is(err, timer.ErrGone) {
		t.Fatalf("Fire of the replaced schedule = %v; want ErrGone", err)
	}
	got := mustGet(t, e, "escalate", "inc-1")
	if got.ClaimedBy != "" || !got.DueAt.Equal(Base.Add(time.Minute)) {
		t.Fatalf("replacement = %+v; want unclaimed, due +1m", got)
	}
	// The same runner claiming the replacement fires it.
	next := mustClaim(t, e, Base.Add(time.Minute), 10, "r")
	if len(next) != 1 || next[0].ID == old.ID {
		t.Fatalf("claimed %+v; want the replacement", next)
	}
	if err := e.Fire(ctx, next[0], nil); err != nil {
		t.Fatal(err)
	}
	if n := fired(t, e); n != 1 {
		t.Fatalf("fired %d; want 1", n)
	}
}

func testReclaimedAfterLease(t *testing.T, open Open) {
	e := one(t, open)
	ctx := ctxOf(t)
	mustSchedule(t, e, tm("k", "a", Base))
	slow := mustClaim(t, e, Base, 10, "slow")[0]
	fast := mustClaim(t, e, Base.Add(lease+time.Second), 10, "fast")[0]
	if err := e.Fire(ctx, slow, nil); !errors.Is(err, timer.ErrGone) {
		t.Fatalf("Fire by the runner whose lease lapsed = %v; want ErrGone", err)
	}
	if err := e.Fire(ctx, fast, nil); err != nil {
		t.Fatal(err)
	}
	if n := fired(t, e); n != 1 {
		t.Fatalf("fired %d; want 1", n)
	}
}

func testEffectError(t *testing.T, open Open) {
	e := one(t, open)
	ctx := ctxOf(t)
	mustSchedule(t, e, tm("k", "a", Base))
	c := mustClaim(t, e, Base, 10, "r")[0]
	if err := e.Fire(ctx, c, func(Tx) error { return errBoom }); !errors.Is(err, errBoom) {
		t.Fatalf("Fire = %v; want the effect's error", err)
	}
	if n := fired(t, e); n != 0 {
		t.Fatalf("the failed effect's insert committed (%d rows)", n)
	}
	if got := mustGet(t, e, "k", "a"); got.ClaimedBy != "r" {
		t.Fatalf("after a failed Fire: %+v; want still claimed by r", got)
	}
	due := Base.Add(time.Second)
	if err := e.Retry(ctx, c, due, "boom"); err != nil {
		t.Fatal(err)
	}
	got := mustGet(t, e, "k", "a")
	if got.Attempts != 1 || got.LastError != "boom" || !got.DueAt.Equal(due) || got.ClaimedBy != "" || !got.ClaimedUntil.IsZero() {
		t.Fatalf("after Retry: %+v; want attempts 1, last error boom, due %s, unclaimed", got, due)
	}
	if ts := mustClaim(t, e, Base, 10, "r"); len(ts) != 0 {
		t.Fatalf("retried timer claimed before its new due time")
	}
	c = mustClaim(t, e, due, 10, "r")[0]
	if c.Attempts != 1 {
		t.Fatalf("claimed %+v; want attempts 1", c)
	}
	if err := e.Fire(ctx, c, nil); err != nil {
		t.Fatal(err)
	}
	if n := fired(t, e); n != 1 {
		t.Fatalf("fired %d; want 1", n)
	}
}

func testRelease(t *testing.T, open Open) {
	e := one(t, open)
	ctx := ctxOf(t)
	mustSchedule(t, e, tm("k", "a", Base), tm("k", "b", Base))
	ts := mustClaim(t, e, Base, 10, "r1")
	stolen := mustClaim(t, e, Base.Add(2*lease), 1, "r2") // a's lease lapsed; r2 holds it now
	if err := e.Release(ctx, ts); err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, e, "k", stolen[0].Key); got.ClaimedBy != "r2" {
		t.Fatalf("Release took %s from r2: %+v", stolen[0].Key, got)
	}
	if got := mustClaim(t, e, Base, 10, "r3"); len(got) != 1 {
		t.Fatalf("after Release r3 claimed %v; want the released timer", keys(got))
	}
}

// testEffectSchedulesNext checks the escalation pattern: the firing
// transaction schedules the next step under the same (kind, key), and a
// failed firing keeps the current step and schedules nothing.
func testEffectSchedulesNext(t *testing.T, open Open) {
	e := one(t, open)
	ctx := ctxOf(t)
	mustSchedule(t, e, tm("escalate", "inc-1", Base))
	c := mustClaim(t, e, Base, 10, "r")[0]
	next := tm("escalate", "inc-1", Base.Add(time.Minute))
	next.Payload = []byte(`{"step":2}`)
	err := e.Fire(ctx, c, func(tx Tx) error {
		if err := tx.Schedule(ctx, next); err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("Fire = %v; want boom", err)
	}
	if got := mustGet(t, e, "escalate", "inc-1"); got.ID != c.ID {
		t.Fatalf("a failed firing replaced the step: %+v", got)
	}
	if err := e.Fire(ctx, c, func(tx Tx) error { return tx.Schedule(ctx, next) }); err != nil {
		t.Fatal(err)
	}
	got := mustGet(t, e, "escalate", "inc-1")
	if got.ID == c.ID || string(got.Payload) != `{"step":2}` || !got.DueAt.Equal(next.DueAt) || got.ClaimedBy != "" {
		t.Fatalf("next step = %+v; want a new unclaimed step 2 due %s", got, next.DueAt)
	}
}

// recorder is a handler firing through an Engine and recording what it saw.
type recorder struct {
	e     Engine
	clock func() time.Time
	fail  func(t timer.Timer, call int) error // nil: never fails

	mu     sync.Mutex
	calls  map[string]int
	early  []string // fired before due by the runner's clock
	errs   []error  // handler results other than nil and ErrGone
	gone   int
	effect atomic.Int64
}

func newRecorder(e Engine, clock func() time.Time) *recorder {
	return &recorder{e: e, clock: clock, calls: map[string]int{}}
}

func (r *recorder) handle(ctx context.Context, t timer.Timer) error {
	r.mu.Lock()
	r.calls[t.Key]++
	call := r.calls[t.Key]
	if r.clock().Before(t.DueAt) {
		r.early = append(r.early, t.Key)
	}
	r.mu.Unlock()
	err := r.e.Fire(ctx, t, func(Tx) error {
		if r.fail != nil {
			if err := r.fail(t, call); err != nil {
				return err
			}
		}
		r.effect.Add(1)
		return nil
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case errors.Is(err, timer.ErrGone):
		r.gone++
	case err != nil && (r.fail == nil || !errors.Is(err, errBoom)):
		r.errs = append(r.errs, err)
	}
	return err
}

func (r *recorder) check(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.early) > 0 {
		t.Errorf("fired before due: %v", r.early)
	}
	if len(r.errs) > 0 {
		t.Errorf("handler errors: %v", errors.Join(r.errs...))
	}
}

func runnerConfig(owner string, clock *Clock) timer.Config {
	return timer.Config{Owner: owner, Poll: 5 * time.Millisecond, Lease: lease, Now: clock.Now, RetryMin: time.Second, RetryMax: time.Minute}
}

func testRunnerFiresWhenDue(t *testing.T, open Open) {
	e := one(t, open)
	clock := NewClock(Base)
	rec := newRecorder(e, clock.Now)
	mustSchedule(t, e, tm("k", "a", Base.Add(10*time.Second)), tm("k", "b", Base.Add(20*time.Second)))
	startRunner(t, e, rec.handle, runnerConfig("r", clock))
	time.Sleep(50 * time.Millisecond) // ten polls
	if n := fired(t, e); n != 0 {
		t.Fatalf("fired %d before anything was due", n)
	}
	clock.Advance(10 * time.Second)
	eventually(t, 10*time.Second, "a fires when due", func() bool { return fired(t, e) == 1 })
	time.Sleep(30 * time.Millisecond)
	if n := fired(t, e); n != 1 {
		t.Fatalf("fired %d at +10s; want only a", n)
	}
	clock.Advance(10 * time.Second)
	eventually(t, 10*time.Second, "b fires when due", func() bool { return fired(t, e) == 2 })
	rec.check(t)
	if rec.effect.Load() != 2 {
		t.Fatalf("effects ran %d times; want 2", rec.effect.Load())
	}
}

func testRunnerNotify(t *testing.T, open Open) {
	e := one(t, open)
	clock := NewClock(Base)
	rec := newRecorder(e, clock.Now)
	cfg := runnerConfig("r", clock)
	cfg.Poll = time.Hour // only Notify wakes it after the first round
	r, _ := startRunner(t, e, rec.handle, cfg)
	time.Sleep(20 * time.Millisecond) // let the first (empty) round pass
	mustSchedule(t, e, tm("k", "a", Base))
	r.Notify()
	eventually(t, 10*time.Second, "Notify wakes the runner", func() bool { return fired(t, e) == 1 })
	rec.check(t)
}

func testRunnerRestart(t *testing.T, open Open) {
	es := open(t, 2) // the second engine is the restarted process
	clock := NewClock(Base)
	rec1 := newRecorder(es[0], clock.Now)
	_, stop := startRunner(t, es[0], rec1.handle, runnerConfig("before", clock))
	mustSchedule(t, es[0], tm("k", "a", Base.Add(time.Minute)), tm("k", "b", Base.Add(time.Minute)), tm("k", "c", Base.Add(2*time.Minute)))
	time.Sleep(20 * time.Millisecond)
	stop()
	clock.Advance(time.Hour) // down for an hour: everything is overdue
	rec2 := newRecorder(es[1], clock.Now)
	startRunner(t, es[1], rec2.handle, runnerConfig("after", clock))
	eventually(t, 10*time.Second, "pending timers fire after the restart", func() bool { return fired(t, es[1]) == 3 })
	time.Sleep(30 * time.Millisecond)
	if n := fired(t, es[1]); n != 3 || rec1.effect.Load() != 0 || rec2.effect.Load() != 3 {
		t.Fatalf("fired %d (before restart %d, after %d); want 3 (0, 3)", n, rec1.effect.Load(), rec2.effect.Load())
	}
	rec2.check(t)
}

func testRunnerAfterCrash(t *testing.T, open Open) {
	es := open(t, 2)
	clock := NewClock(Base)
	mustSchedule(t, es[0], tm("k", "a", Base))
	// The first runner claims and dies before firing.
	if ts := mustClaim(t, es[0], clock.Now(), 10, "dead"); len(ts) != 1 {
		t.Fatalf("claimed %d; want 1", len(ts))
	}
	rec := newRecorder(es[1], clock.Now)
	startRunner(t, es[1], rec.handle, runnerConfig("alive", clock))
	time.Sleep(50 * time.Millisecond)
	if n := fired(t, es[1]); n != 0 {
		t.Fatalf("fired %d while the dead runner's lease holds", n)
	}
	clock.Advance(lease + time.Second)
	eventually(t, 10*time.Second, "the timer fires after the lease lapses", func() bool { return fired(t, es[1]) == 1 })
	time.Sleep(30 * time.Millisecond)
	if rec.effect.Load() != 1 {
		t.Fatalf("effect ran %d times; want 1", rec.effect.Load())
	}
	rec.check(t)
}

func testRunnerRetries(t *testing.T, open Open) {
	e := one(t, open)
	ctx := ctxOf(t)
	clock := NewClock(Base)
	rec := newRecorder(e, clock.Now)
	rec.fail = func(_ timer.Timer, call int) error {
		if call <= 2 {
			return fmt.Errorf("attempt %d: %w", call, errBoom)
		}
		return nil
	}
	mustSchedule(t, e, tm("k", "a", Base))
	startRunner(t, e, rec.handle, runnerConfig("r", clock))
	// Each failure is recorded and retried after 1s, then 2s.
	for i, wait := range []time.Duration{time.Second, 2 * time.Second} {
		attempts := i + 1
		var got timer.Timer
		eventually(t, 10*time.Second, fmt.Sprintf("failure %d recorded", attempts), func() bool {
			var err error
			got, err = e.Get(ctx, "k", "a")
			return err == nil && got.Attempts == attempts
		})
		if !strings.Contains(got.LastError, "boom") || got.ClaimedBy != "" || !got.DueAt.Equal(clock.Now().Add(wait)) {
			t.Fatalf("after failure %d: %+v; want last error boom, unclaimed, due in %s", attempts, got, wait)
		}
		time.Sleep(20 * time.Millisecond)
		if n := fired(t, e); n != 0 {
			t.Fatalf("fired before the retry was due")
		}
		clock.Advance(wait)
	}
	eventually(t, 10*time.Second, "the third attempt fires", func() bool { return fired(t, e) == 1 })
	mustGone(t, e, "k", "a")
	if rec.effect.Load() != 1 {
		t.Fatalf("effect committed %d times; want 1", rec.effect.Load())
	}
	rec.check(t)
}

// testTwoRunnersRace runs two runners, each on its own pool as two
// processes would, over 2 000 due timers: every effect commits once. With
// lapse, the fake clock races ahead of the leases, so each runner keeps
// claiming timers the other holds and one of them finds each such timer
// gone.
func testTwoRunnersRace(t *testing.T, open Open, lapse bool) {
	const n = 2000
	es := open(t, 2)
	clock := NewClock(Base)
	ts := make([]timer.Timer, n)
	for i := range ts {
		ts[i] = tm("race", fmt.Sprintf("t%04d", i), Base.Add(-time.Duration(i%50)*time.Millisecond))
	}
	mustSchedule(t, es[0], ts...)
	var recs []*recorder
	for i, e := range es {
		rec := newRecorder(e, clock.Now)
		recs = append(recs, rec)
		cfg := runnerConfig(fmt.Sprintf("runner-%d", i), clock)
		cfg.Batch = 32 // small batches interleave the runners more
		if lapse {
			cfg.Lease = 500 * time.Millisecond
		}
		startRunner(t, e, rec.handle, cfg)
	}
	if lapse {
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			for {
				select {
				case <-stop:
					return
				case <-time.After(time.Millisecond):
					clock.Advance(time.Second)
				}
			}
		}()
	}
	eventually(t, 90*time.Second, "all timers fire", func() bool { return fired(t, es[0]) >= n })
	time.Sleep(50 * time.Millisecond)
	var effects int64
	for _, rec := range recs {
		rec.check(t)
		effects += rec.effect.Load()
	}
	if got := fired(t, es[0]); got != n || effects != n {
		t.Fatalf("fired rows %d, effects run %d; want %d each", got, effects, n)
	}
	for i, rec := range recs {
		rec.mu.Lock()
		t.Logf("runner %d: %d fired, %d found gone", i, rec.effect.Load(), rec.gone)
		rec.mu.Unlock()
	}
}
