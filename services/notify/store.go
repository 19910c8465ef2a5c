package notify

import (
	"context"
	"time"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/timer"
)

// Store is what the notify service needs from its database (migration sets
// "outbox", "timer" and "notify"). The SQLite and PostgreSQL adapters in
// store/ implement it; storetest/ is the contract both pass.
type Store interface {
	// InTx runs fn in one transaction: everything fn does through tx,
	// outbox, inbox and timer writes included, commits or rolls back
	// together. When fn returns an error InTx returns it.
	InTx(ctx context.Context, fn func(tx Tx) error) error
	// FireTimer runs fn for a claimed timer in one transaction that also
	// deletes the timer. It returns timer.ErrGone (and does not call fn)
	// when the timer was cancelled, replaced or claimed by another runner.
	FireTimer(ctx context.Context, t timer.Timer, fn func(tx Tx) error) error
	// Timers is the source a timer.Runner claims due timers from.
	Timers() timer.Source
	// DeliveryGet returns a delivery by key. Errors: ErrNotFound.
	DeliveryGet(ctx context.Context, key string) (Delivery, error)
	// DeliveryList returns the deliveries of an incident, by its id or
	// (with id "") its number, oldest first.
	DeliveryList(ctx context.Context, incidentID string, number int64) ([]Delivery, error)
}

// Tx is the transactional view of the store.
type Tx interface {
	// MarkProcessed records in the inbox that consumer applied msgID; it
	// reports false when that message was applied before.
	MarkProcessed(ctx context.Context, consumer, msgID string) (bool, error)
	// Emit writes envelopes to the outbox.
	Emit(ctx context.Context, envs ...events.Envelope) error
	// ScheduleTimer schedules t, replacing a timer of the same kind and key.
	ScheduleTimer(ctx context.Context, t timer.Timer) error
	// CancelTimer cancels the timer of kind and key; it reports whether one
	// was pending.
	CancelTimer(ctx context.Context, kind, key string) (bool, error)
	// DeliveryCreate stores d unless a delivery with its key exists; it
	// reports whether d was stored. Stores keep times to the microsecond,
	// in UTC.
	DeliveryCreate(ctx context.Context, d Delivery) (bool, error)
	// DeliveryGet is Store.DeliveryGet inside the transaction.
	DeliveryGet(ctx context.Context, key string) (Delivery, error)
	// DeliveryUpdate writes d's status, attempts, reason and times, provided
	// the stored delivery is still at status from with fromAttempts
	// attempts. Errors: ErrConflict when it is not (another writer recorded
	// an outcome first), ErrNotFound when there is no such delivery.
	DeliveryUpdate(ctx context.Context, d Delivery, from Status, fromAttempts int) error
}

// Status is where a delivery stands.
type Status string

// The delivery statuses. sent and failed are final.
const (
	// StatusPending: accepted, not yet attempted.
	StatusPending Status = "pending"
	// StatusSending: an attempt is in flight (or its process died during
	// it; see docs/adr/0007-notification-delivery.md).
	StatusSending Status = "sending"
	// StatusRetrying: an attempt failed and another is scheduled.
	StatusRetrying Status = "retrying"
	// StatusSent: the provider accepted the page.
	StatusSent Status = "sent"
	// StatusFailed: the provider refused the page for good, or every
	// attempt failed.
	StatusFailed Status = "failed"
)

// Delivery is one page going out through one provider.
type Delivery struct {
	// Key is the idempotency key: the page's key and the provider.
	Key           string
	IncidentID    string
	Number        int64
	EventID       string
	CorrelationID string
	Provider      string
	// Target is who or what is paged ("user:alice", "channel:ops"); it
	// never holds an address.
	Target        string
	ContactMethod string
	Status        Status
	Attempts      int
	Reason        string
	Page          events.PageRequested
	CreatedAt     time.Time
	UpdatedAt     time.Time
	NextAttemptAt time.Time // zero when none is scheduled
	SentAt        time.Time // zero until sent
}
