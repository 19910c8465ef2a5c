package timer_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/internal/timer"
)

var base = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

// memSource is an in-memory Source that records what the runner asked of
// it. Timers stay claimed until Retry or Release; firing is up to handlers.
type memSource struct {
	mu       sync.Mutex
	pending  []timer.Timer
	claimErr error
	retries  []retry
	released []string
	claims   int
}

type retry struct {
	id, cause string
	due       time.Time
}

func (s *memSource) ClaimDue(_ context.Context, now time.Time, limit int, owner string, lease time.Duration) ([]timer.Timer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.claims++
	if s.claimErr != nil {
		return nil, s.claimErr
	}
	var out []timer.Timer
	for i, t := range s.pending {
		if len(out) == limit {
			break
		}
		if t.DueAt.After(now) || (t.ClaimedBy != "" && !t.ClaimedUntil.Before(now)) {
			continue
		}
		t.ClaimedBy, t.ClaimedUntil = owner, now.Add(lease)
		s.pending[i] = t
		out = append(out, t)
	}
	return out, nil
}

func (s *memSource) Retry(_ context.Context, t timer.Timer, due time.Time, cause string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.retries = append(s.retries, retry{t.ID, cause, due})
	for i, p := range s.pending {
		if p.ID == t.ID {
			s.pending[i].ClaimedBy, s.pending[i].Attempts, s.pending[i].DueAt = "", p.Attempts+1, due
		}
	}
	return nil
}

func (s *memSource) Release(_ context.Context, ts []timer.Timer) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range ts {
		s.released = append(s.released, t.ID)
	}
	return nil
}

func (s *memSource) add(ts ...timer.Timer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pending = append(s.pending, ts...)
}

func (s *memSource) remove(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pending = slices.DeleteFunc(s.pending, func(t timer.Timer) bool { return t.ID == id })
}

func due(ids ...string) []timer.Timer {
	out := make([]timer.Timer, len(ids))
	for i, id := range ids {
		out[i] = timer.Timer{ID: id, Kind: "k", Key: id, DueAt: base}
	}
	return out
}

// run starts r and returns a stop that cancels it and waits for Run.
func run(t *testing.T, r *timer.Runner) (stop func()) {
	t.Helper()
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
					t.Errorf("Run = %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not return after cancel")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func fixed(t time.Time) func() time.Time { return func() time.Time { return t } }

func TestConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfg     timer.Config
		wantErr string
	}{
		{"zero is valid", timer.Config{}, ""},
		{"negative poll", timer.Config{Poll: -1}, "poll"},
		{"negative batch", timer.Config{Batch: -1}, "batch"},
		{"negative lease", timer.Config{Lease: -1}, "lease"},
		{"negative concurrency", timer.Config{Concurrency: -1}, "concurrency"},
		{"retry min above max", timer.Config{RetryMin: time.Hour, RetryMax: time.Minute}, "exceeds"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.cfg.Validate()
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("Validate = %v; want an error containing %q", err, tc.wantErr)
			}
			if _, err := timer.New(&memSource{}, func(context.Context, timer.Timer) error { return nil }, nil, tc.cfg); (err == nil) != (tc.wantErr == "") {
				t.Fatalf("New = %v", err)
			}
		})
	}
	t.Run("default owners differ", func(t *testing.T) {
		t.Parallel()
		h := func(context.Context, timer.Timer) error { return nil }
		a, _ := timer.New(&memSource{}, h, nil, timer.Config{})
		b, _ := timer.New(&memSource{}, h, nil, timer.Config{})
		if a.Owner() == "" || a.Owner() == b.Owner() {
			t.Fatalf("owners %q and %q; want distinct", a.Owner(), b.Owner())
		}
	})
	t.Run("nil handler", func(t *testing.T) {
		t.Parallel()
		if _, err := timer.New(&memSource{}, nil, nil, timer.Config{}); err == nil {
			t.Fatal("New accepted a nil handler")
		}
	})
}

func TestRunnerBoundsConcurrency(t *testing.T) {
	t.Parallel()
	src := &memSource{}
	src.add(due("a", "b", "c", "d", "e", "f", "g", "h")...)
	var running, peak, total atomic.Int64
	release := make(chan struct{})
	r, err := timer.New(src, func(_ context.Context, tm timer.Timer) error {
		n := running.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		<-release
		running.Add(-1)
		total.Add(1)
		src.remove(tm.ID)
		return nil
	}, nil, timer.Config{Owner: "r", Concurrency: 3, Poll: time.Millisecond, Now: fixed(base)})
	if err != nil {
		t.Fatal(err)
	}
	run(t, r)
	waitFor(t, "three handlers running", func() bool { return running.Load() == 3 })
	time.Sleep(20 * time.Millisecond)
	if p := peak.Load(); p != 3 {
		t.Fatalf("peak concurrency %d; want 3", p)
	}
	close(release)
	waitFor(t, "all fired", func() bool { return total.Load() == 8 })
	if p := peak.Load(); p != 3 {
		t.Fatalf("peak concurrency %d; want 3", p)
	}
}

func TestRunnerShutdown(t *testing.T) {
	t.Parallel()
	src := &memSource{}
	src.add(due("a", "b", "c")...)
	started := make(chan struct{})
	finish := make(chan struct{})
	var finished atomic.Bool
	var handlerCtxErr atomic.Value
	r, err := timer.New(src, func(ctx context.Context, tm timer.Timer) error {
		if tm.ID != "a" {
			t.Errorf("handler ran for %s after shutdown began", tm.ID)
		}
		close(started)
		<-finish
		handlerCtxErr.Store(ctx.Err() != nil)
		finished.Store(true)
		return nil
	}, nil, timer.Config{Owner: "r", Concurrency: 1, Now: fixed(base)})
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, r)
	<-started
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	select {
	case <-stopped:
		t.Fatal("Run returned while a handler was running")
	case <-time.After(50 * time.Millisecond):
	}
	close(finish)
	<-stopped
	if !finished.Load() {
		t.Fatal("Run returned before the handler finished")
	}
	if handlerCtxErr.Load() == true {
		t.Error("the handler's context was cancelled with Run's")
	}
	src.mu.Lock()
	defer src.mu.Unlock()
	if slices.Sort(src.released); !slices.Equal(src.released, []string{"b", "c"}) {
		t.Fatalf("released %v; want the claimed timers not started, [b c]", src.released)
	}
}

func TestRunnerFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		attempts  int
		handler   func() error
		wantCause string // "" for no retry
		wantWait  time.Duration
	}{
		{"fired", 0, func() error { return nil }, "", 0},
		{"gone is done", 0, func() error { return errors.Join(errors.New("fire"), timer.ErrGone) }, "", 0},
		{"first failure", 0, func() error { return errors.New("boom") }, "boom", time.Second},
		{"third failure doubles twice", 2, func() error { return errors.New("boom") }, "boom", 4 * time.Second},
		{"backoff capped", 30, func() error { return errors.New("boom") }, "boom", 10 * time.Second},
		{"panic", 0, func() error { panic("kaboom") }, "panic: kaboom", time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src := &memSource{}
			tm := due("a")[0]
			tm.Attempts = tc.attempts
			src.add(tm)
			var calls atomic.Int64
			r, err := timer.New(src, func(context.Context, timer.Timer) error {
				calls.Add(1)
				defer src.remove("a") // whatever happens, the handler decided
				return tc.handler()
			}, nil, timer.Config{Owner: "r", Poll: time.Millisecond, RetryMin: time.Second, RetryMax: 10 * time.Second, Now: fixed(base)})
			if err != nil {
				t.Fatal(err)
			}
			stop := run(t, r)
			waitFor(t, "handler called", func() bool { return calls.Load() == 1 })
			stop()
			src.mu.Lock()
			defer src.mu.Unlock()
			switch {
			case tc.wantCause == "" && len(src.retries) != 0:
				t.Fatalf("retries %+v; want none", src.retries)
			case tc.wantCause != "" && (len(src.retries) != 1 ||
				!strings.Contains(src.retries[0].cause, tc.wantCause) || !src.retries[0].due.Equal(base.Add(tc.wantWait))):
				t.Fatalf("retries %+v; want one with cause %q due %s", src.retries, tc.wantCause, base.Add(tc.wantWait))
			}
		})
	}
}

func TestRunnerSkipsTimerStillFiring(t *testing.T) {
	t.Parallel()
	src := &memSource{}
	src.add(due("a")...)
	now := base
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	var calls atomic.Int64
	finish := make(chan struct{})
	r, err := timer.New(src, func(context.Context, timer.Timer) error {
		calls.Add(1)
		<-finish
		src.remove("a")
		return nil
	}, nil, timer.Config{Owner: "r", Poll: time.Millisecond, Lease: time.Second, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	run(t, r)
	waitFor(t, "handler called", func() bool { return calls.Load() == 1 })
	mu.Lock()
	now = now.Add(time.Hour) // the lease lapses while the handler runs
	mu.Unlock()
	claims := func() int { src.mu.Lock(); defer src.mu.Unlock(); return src.claims }
	c := claims()
	waitFor(t, "more claims", func() bool { return claims() > c+5 })
	close(finish)
	if n := calls.Load(); n != 1 {
		t.Fatalf("handler called %d times for one timer still firing; want 1", n)
	}
}

func TestRunnerNotify(t *testing.T) {
	t.Parallel()
	src := &memSource{}
	var calls atomic.Int64
	r, err := timer.New(src, func(_ context.Context, tm timer.Timer) error {
		calls.Add(1)
		src.remove(tm.ID)
		return nil
	}, nil, timer.Config{Owner: "r", Poll: time.Hour, Now: fixed(base)})
	if err != nil {
		t.Fatal(err)
	}
	run(t, r)
	claims := func() int { src.mu.Lock(); defer src.mu.Unlock(); return src.claims }
	waitFor(t, "first round", func() bool { return claims() == 1 })
	src.add(due("a")...)
	r.Notify()
	waitFor(t, "Notify wakes the runner", func() bool { return calls.Load() == 1 })
}

func TestRunnerRetriesClaimErrors(t *testing.T) {
	t.Parallel()
	src := &memSource{claimErr: errors.New("db down")}
	src.add(due("a")...)
	var calls atomic.Int64
	r, err := timer.New(src, func(_ context.Context, tm timer.Timer) error {
		calls.Add(1)
		src.remove(tm.ID)
		return nil
	}, nil, timer.Config{Owner: "r", Poll: 5 * time.Millisecond, Now: fixed(base)})
	if err != nil {
		t.Fatal(err)
	}
	run(t, r)
	claims := func() int { src.mu.Lock(); defer src.mu.Unlock(); return src.claims }
	waitFor(t, "claims retried after errors", func() bool { return claims() >= 3 })
	src.mu.Lock()
	src.claimErr = nil
	src.mu.Unlock()
	waitFor(t, "the timer fires once claims work", func() bool { return calls.Load() == 1 })
}
