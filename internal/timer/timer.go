// Package timer holds firebreak's durable timers, a building block shared by
// every service like the outbox: escalation steps, acknowledgement timeouts,
// SLA warnings and snoozes. A timer is a row (table fb_timers, migration set
// "timer") with a kind, a key and a due time; it survives restarts and fires
// once.
//
// The pieces:
//
//   - A service schedules and cancels timers inside the transaction of its
//     own state change (and its outbox write) with the engine adapter's
//     Schedule and Cancel (internal/timer/sqlite, internal/timer/postgres).
//     (Kind, Key) names a timer: scheduling it again replaces it, so "the
//     next escalation step of incident X" is one row.
//   - A Runner polls the adapter's Store (a Source) for due timers, claims
//     them for a lease and hands each to the service's Handler, a few at a
//     time.
//   - The Handler applies the timer's effect through the adapter's Fire,
//     which in one transaction deletes the timer, provided the claim is still
//     this runner's, and runs the effect. Fire is typed per engine (fn gets
//     a *sql.Tx or a pgx.Tx), which is why the Runner only sees a Handler.
//
// Why it fires once: the delete and the effect commit together, and the
// delete matches only the claim the runner holds. A timer cancelled,
// replaced or claimed by another runner meanwhile is gone (ErrGone) and its
// effect does not run. A runner that dies after claiming leaves a lease that
// expires, and another runner claims the timer again. A timer does not fire
// before it is due by the runner's clock; how late it fires depends on the
// poll interval (Notify shortens it) and on the handlers' throughput.
//
// When a Handler fails, the Runner records the attempt (attempts, last_error)
// and makes the timer due again after an exponential backoff. Handlers must
// therefore be safe to run again after a failure; with Fire they are, since
// a failed Fire commits nothing.
package timer

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/google/uuid"
)

// Timer is one durable timer.
type Timer struct {
	// ID identifies this schedule of the timer. Schedule assigns a new
	// one (NewID) when it is empty; a replacement (same Kind and Key) is a
	// new schedule and gets a new ID, which is what makes a runner still
	// holding the old one see ErrGone.
	ID string
	// Kind is what the timer does, e.g. "incident.escalate"; handlers
	// dispatch on it.
	Kind string
	// Key names the timer within its kind, e.g. the incident id. One timer
	// per (Kind, Key) is pending at a time.
	Key string
	// DueAt is when the timer fires.
	DueAt time.Time
	// Payload is opaque to this package (JSON, typically).
	Payload []byte
	// CreatedAt is when this schedule was made; Schedule uses time.Now when
	// it is zero.
	CreatedAt time.Time

	// Attempts counts the failed firings so far.
	Attempts int
	// LastError is the error of the last failed firing.
	LastError string
	// ClaimedBy is the runner holding the timer, set by ClaimDue; empty when
	// unclaimed.
	ClaimedBy string
	// ClaimedUntil is when that claim lapses.
	ClaimedUntil time.Time
}

// Validate reports whether t can be scheduled.
func (t Timer) Validate() error {
	switch {
	case t.Kind == "":
		return errors.New("timer: empty kind")
	case t.Key == "":
		return fmt.Errorf("timer %s: empty key", t.Kind)
	case t.DueAt.IsZero():
		return fmt.Errorf("timer %s/%s: zero due time", t.Kind, t.Key)
	}
	return nil
}

// ErrGone is returned when firing (or retrying) a claimed timer that is no
// longer held by that claim: it was cancelled, replaced, fired, or claimed
// again after the lease lapsed. Its effect must not be applied; the Runner
// treats it as done.
var ErrGone = errors.New("timer gone")

// ErrNotFound is returned when looking up a timer that is not pending.
var ErrNotFound = errors.New("timer not found")

// NewID returns a new timer id, a UUIDv7 like event ids: time-ordered, so
// inserts stay at the end of the primary-key index.
func NewID() string { return uuid.Must(uuid.NewV7()).String() }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand since Go 1.24)
	return hex.EncodeToString(b)
}

// DefaultOwner names this process as a runner: hostname-pid-random, unique
// even when two runners share a host and pid (tests).
func DefaultOwner() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), randomHex(4))
}
