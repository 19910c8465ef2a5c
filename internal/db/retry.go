package db

import (
	"context"
	"math/rand/v2"
	"time"
)

// MaxAttempts is how often Retry runs a transaction that lost a race.
const MaxAttempts = 5

// Retry runs attempt (a whole transaction) until it succeeds, fails with an
// error retryable does not accept, or has run MaxAttempts times; between
// attempts it waits a short, growing, jittered while so that racing replicas
// do not collide again in lockstep. It returns the last attempt's error.
func Retry(ctx context.Context, retryable func(error) bool, attempt func() error) error {
	var err error
	for n := 1; ; n++ {
		err = attempt()
		if err == nil || n == MaxAttempts || !retryable(err) {
			return err
		}
		d := time.Duration(1<<n) * time.Millisecond
		d += rand.N(d)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}
