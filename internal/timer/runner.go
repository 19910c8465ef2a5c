package timer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Source is the Runner's view of a service's timer table. The SQLite and
// PostgreSQL adapters' Store implement it.
type Source interface {
	// ClaimDue claims up to limit timers due at now (DueAt <= now) that are
	// unclaimed or whose claim lapsed before now, earliest first, for owner
	// until now+lease, and returns them with ClaimedBy and ClaimedUntil set.
	// Concurrent callers never receive the same timer under one lease.
	ClaimDue(ctx context.Context, now time.Time, limit int, owner string, lease time.Duration) ([]Timer, error)
	// Retry records a failed firing of the claimed timer t: attempts+1,
	// last_error = cause, due again at due, claim released.
	// Errors: ErrGone when t.ClaimedBy no longer holds t.
	Retry(ctx context.Context, t Timer, due time.Time, cause string) error
	// Release gives claimed timers back unchanged (no attempt counted), so
	// another runner can claim them before their lease lapses. Timers no
	// longer held by their ClaimedBy are skipped.
	Release(ctx context.Context, ts []Timer) error
}

// Handler fires one claimed timer, normally by calling its adapter's Fire
// with the effect. It returns nil when the timer fired, ErrGone (wrapped or
// not) when Fire found it gone, and any other error to have it retried
// after a backoff, so it is called again for a timer whose earlier call
// failed. Its context is not cancelled when the Runner stops (Run waits for
// it), so it must bound its own work.
type Handler func(ctx context.Context, t Timer) error

// Config tunes a Runner. The zero value is usable: zero fields take the
// defaults below.
type Config struct {
	// Owner names this runner in claims; two runners on one database need
	// different owners. Default hostname-pid-random (DefaultOwner).
	Owner string
	// Poll is how often the runner looks for due timers when nobody calls
	// Notify; it bounds how late a timer fires on an idle runner.
	// Default 100ms.
	Poll time.Duration
	// Batch is how many timers one claim takes at most. Default 256.
	Batch int
	// Lease is how long a claim holds. A claimed timer whose runner dies
	// fires that much later, and a batch must be handled within it or other
	// runners claim its rest again (which is safe: they find what was
	// already fired gone). Default 30s.
	Lease time.Duration
	// Concurrency is how many handlers run at once. Default 4.
	Concurrency int
	// RetryMin is the wait before the first retry of a failed timer; each
	// further failure doubles it. Default 1s.
	RetryMin time.Duration
	// RetryMax caps the wait between retries. Default 5m.
	RetryMax time.Duration
	// Now is the runner's clock: a timer is due when DueAt <= Now(), and
	// leases and retries count from it. Tests pass a fake clock.
	// Default time.Now.
	Now func() time.Time
}

func (c *Config) setDefaults() {
	if c.Owner == "" {
		c.Owner = DefaultOwner()
	}
	if c.Poll == 0 {
		c.Poll = 100 * time.Millisecond
	}
	if c.Batch == 0 {
		c.Batch = 256
	}
	if c.Lease == 0 {
		c.Lease = 30 * time.Second
	}
	if c.Concurrency == 0 {
		c.Concurrency = 4
	}
	if c.RetryMin == 0 {
		c.RetryMin = time.Second
	}
	if c.RetryMax == 0 {
		c.RetryMax = 5 * time.Minute
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Validate reports settings no runner can work with (negative values, a
// retry minimum above the maximum).
func (c Config) Validate() error {
	var errs []error
	if c.Poll < 0 {
		errs = append(errs, fmt.Errorf("poll %s is negative", c.Poll))
	}
	if c.Batch < 0 {
		errs = append(errs, fmt.Errorf("batch %d is negative", c.Batch))
	}
	if c.Lease < 0 {
		errs = append(errs, fmt.Errorf("lease %s is negative", c.Lease))
	}
	if c.Concurrency < 0 {
		errs = append(errs, fmt.Errorf("concurrency %d is negative", c.Concurrency))
	}
	if c.RetryMin < 0 || c.RetryMax < 0 {
		errs = append(errs, fmt.Errorf("retry bounds %s..%s are negative", c.RetryMin, c.RetryMax))
	}
	if c.RetryMin > 0 && c.RetryMax > 0 && c.RetryMin > c.RetryMax {
		errs = append(errs, fmt.Errorf("retry minimum %s exceeds maximum %s", c.RetryMin, c.RetryMax))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("timer runner config: %w", err)
	}
	return nil
}

// maxClaimBackoff caps the wait after failed claims.
const maxClaimBackoff = 5 * time.Second

// Runner fires a service's due timers: it claims them from a Source in
// batches and runs the Handler on each, Concurrency at a time, until its
// context ends.
type Runner struct {
	src    Source
	handle Handler
	logger *slog.Logger
	cfg    Config
	poke   chan struct{}

	mu       sync.Mutex
	inflight map[string]struct{} // ids whose handler is running
}

// New returns a runner of src's timers. logger may be nil.
func New(src Source, handle Handler, logger *slog.Logger, cfg Config) (*Runner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	if src == nil || handle == nil {
		return nil, errors.New("timer runner: nil source or handler")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Runner{
		src: src, handle: handle, logger: logger, cfg: cfg,
		poke:     make(chan struct{}, 1),
		inflight: make(map[string]struct{}),
	}, nil
}

// Owner returns the name this runner claims timers under.
func (r *Runner) Owner() string { return r.cfg.Owner }

// Notify makes the runner look for due timers now instead of at the next
// poll, e.g. after a service scheduled one due sooner. It never blocks.
func (r *Runner) Notify() {
	select {
	case r.poke <- struct{}{}:
	default:
	}
}

// Run fires due timers until ctx is done, then releases the claimed timers
// it has not started, waits for the handlers in flight and returns nil.
// Handlers get a context that is not cancelled with ctx, so a firing that
// started finishes rather than failing half-way. Failed claims are logged
// and retried with backoff.
func (r *Runner) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	slots := make(chan struct{}, r.cfg.Concurrency)
	tick := time.NewTicker(r.cfg.Poll)
	defer tick.Stop()
	backoff := time.Duration(0)
	for {
		n, err := r.round(ctx, slots, &wg)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			backoff = min(max(2*backoff, r.cfg.Poll), maxClaimBackoff)
			r.logger.Warn("timer claim failed; retrying", "err", err, "backoff", backoff)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(backoff):
			}
			continue
		}
		backoff = 0
		if n == r.cfg.Batch {
			continue // a full batch: more may be due already
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		case <-r.poke:
		}
	}
}

// round claims one batch and starts a handler for each timer, waiting for
// free slots, and returns how many timers it claimed.
func (r *Runner) round(ctx context.Context, slots chan struct{}, wg *sync.WaitGroup) (int, error) {
	ts, err := r.src.ClaimDue(ctx, r.cfg.Now(), r.cfg.Batch, r.cfg.Owner, r.cfg.Lease)
	if err != nil {
		return 0, fmt.Errorf("timer runner %s: %w", r.cfg.Owner, err)
	}
	hctx := context.WithoutCancel(ctx)
	for i, t := range ts {
		if ctx.Err() != nil {
			r.release(hctx, ts[i:])
			return len(ts), nil
		}
		if !r.begin(t.ID) {
			// Still firing from an earlier claim whose lease lapsed; that
			// call decides, and a second one would only find it gone.
			continue
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			r.end(t.ID)
			r.release(hctx, ts[i:])
			return len(ts), nil
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			defer r.end(t.ID)
			r.fire(hctx, t)
		}()
	}
	return len(ts), nil
}

// release gives back the claimed timers of an interrupted round that are not
// firing, so a restarted runner need not wait for their lease.
func (r *Runner) release(ctx context.Context, ts []Timer) {
	r.mu.Lock()
	rest := make([]Timer, 0, len(ts))
	for _, t := range ts {
		if _, ok := r.inflight[t.ID]; !ok {
			rest = append(rest, t)
		}
	}
	r.mu.Unlock()
	if len(rest) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := r.src.Release(ctx, rest); err != nil {
		r.logger.Warn("release claimed timers; they fire when the lease lapses", "err", err, "count", len(rest), "lease", r.cfg.Lease)
	}
}

// fire runs the handler on t and records a failure for a retry.
func (r *Runner) fire(ctx context.Context, t Timer) {
	err := r.call(ctx, t)
	switch {
	case err == nil:
		return
	case errors.Is(err, ErrGone):
		r.logger.Debug("timer gone before it fired", "kind", t.Kind, "key", t.Key, "id", t.ID)
		return
	}
	due := r.cfg.Now().Add(r.backoff(t.Attempts + 1))
	if rerr := r.src.Retry(ctx, t, due, err.Error()); rerr != nil && !errors.Is(rerr, ErrGone) {
		r.logger.Error("record failed timer; it fires again when the lease lapses",
			"kind", t.Kind, "key", t.Key, "id", t.ID, "err", err, "record_err", rerr)
		return
	}
	r.logger.Warn("timer handler failed; retrying",
		"kind", t.Kind, "key", t.Key, "id", t.ID, "attempts", t.Attempts+1, "retry_at", due, "err", err)
}

// call runs the handler, turning a panic into an error so one bad timer
// cannot take the runner down.
func (r *Runner) call(ctx context.Context, t Timer) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("timer handler panic: %v", p)
		}
	}()
	return r.handle(ctx, t)
}

// backoff is the wait before retry number attempt (1-based).
func (r *Runner) backoff(attempt int) time.Duration {
	d := r.cfg.RetryMin
	for i := 1; i < attempt && d < r.cfg.RetryMax; i++ {
		d *= 2
	}
	return min(d, r.cfg.RetryMax)
}

func (r *Runner) begin(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.inflight[id]; ok {
		return false
	}
	r.inflight[id] = struct{}{}
	return true
}

func (r *Runner) end(id string) {
	r.mu.Lock()
	delete(r.inflight, id)
	r.mu.Unlock()
}
