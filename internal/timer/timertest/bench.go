package timertest

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/internal/timer"
)

// Lag scenario: this many timers pending, falling due at this rate, of
// which the first Window's worth are fired and measured.
const (
	LagPending = 100_000
	LagRate    = 1000 // timers falling due per second
	LagWindow  = 5 * time.Second
)

// BenchLag measures timer lag, the time from a timer's due time to the
// moment its effect runs, with a Runner in its default configuration over
// LagPending pending timers of which LagRate fall due every second. It
// fires LagWindow's worth (5 000) and reports the lag's p50, p99 and max in
// milliseconds. It runs the scenario once whatever b.N is, so run it with
// -benchtime=1x.
//
// The timers are loaded with due times from Base on; the runner's clock is
// the real clock shifted so that Base comes 200ms after the runner starts,
// which keeps the loading time out of the measurement.
func BenchLag(b *testing.B, open Open) {
	e := open(b, 1)[0]
	ctx := b.Context()
	ts := make([]timer.Timer, LagPending)
	for i := range ts {
		ts[i] = timer.Timer{
			ID: timer.NewID(), Kind: "bench", Key: strconv.Itoa(i),
			DueAt:   Base.Add(time.Duration(i) * time.Second / LagRate),
			Payload: []byte(`{"incident":"inc-1"}`), CreatedAt: Base,
		}
	}
	if err := e.Load(ctx, ts); err != nil {
		b.Fatal(err)
	}
	measured := int(LagWindow.Seconds() * LagRate)
	end := Base.Add(LagWindow)

	const lead = 200 * time.Millisecond
	start := time.Now()
	clock := func() time.Time { return Base.Add(-lead + time.Since(start)) }

	var mu sync.Mutex
	lags := make([]time.Duration, 0, measured)
	done := make(chan struct{})
	handle := func(ctx context.Context, t timer.Timer) error {
		return e.Fire(ctx, t, func(Tx) error {
			lag := clock().Sub(t.DueAt)
			if !t.DueAt.Before(end) {
				return nil
			}
			mu.Lock()
			defer mu.Unlock()
			lags = append(lags, lag)
			if len(lags) == measured {
				close(done)
			}
			return nil
		})
	}
	r, err := timer.New(e, handle, nil, timer.Config{Owner: "bench", Now: clock})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	runCtx, cancel := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- r.Run(runCtx) }()
	select {
	case <-done:
	case <-time.After(LagWindow + 20*time.Second):
	}
	cancel()
	if err := <-ran; err != nil {
		b.Fatal(err)
	}
	b.StopTimer()

	mu.Lock()
	defer mu.Unlock()
	if len(lags) < measured {
		b.Fatalf("only %d of %d timers fired in time", len(lags), measured)
	}
	slices.Sort(lags)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	p50, p99, maxLag := lags[len(lags)/2], lags[len(lags)*99/100], lags[len(lags)-1]
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(ms(p50), "p50-ms")
	b.ReportMetric(ms(p99), "p99-ms")
	b.ReportMetric(ms(maxLag), "max-ms")
	if lags[0] < 0 {
		b.Errorf("a timer fired %s before it was due", -lags[0])
	}
	if p99 > time.Second {
		b.Logf("p99 lag %s misses the 1s target", p99)
	}
}

// BenchClaimFire measures the store's throughput without a Runner: one
// goroutine claims batches of 256 due timers and fires each with an effect
// that inserts one row. ns/op is per timer.
func BenchClaimFire(b *testing.B, open Open) {
	e := open(b, 1)[0]
	ctx := b.Context()
	ts := make([]timer.Timer, b.N)
	for i := range ts {
		ts[i] = timer.Timer{ID: timer.NewID(), Kind: "bench", Key: strconv.Itoa(i), DueAt: Base, Payload: []byte(`{}`), CreatedAt: Base}
	}
	if err := e.Load(ctx, ts); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for fired := 0; fired < b.N; {
		claimed, err := e.ClaimDue(ctx, Base, 256, "bench", time.Minute)
		if err != nil {
			b.Fatal(err)
		}
		if len(claimed) == 0 {
			b.Fatalf("nothing to claim after %d of %d", fired, b.N)
		}
		for _, t := range claimed {
			if err := e.Fire(ctx, t, nil); err != nil {
				b.Fatal(err)
			}
		}
		fired += len(claimed)
	}
}
