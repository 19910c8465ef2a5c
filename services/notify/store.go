package notify

import (
	"context"
	"encoding/json"
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
	// SubscriberList returns every subscriber, oldest first.
	SubscriberList(ctx context.Context) ([]Subscriber, error)
	// SubscriberGet returns a subscriber by id. Errors: ErrNotFound.
	SubscriberGet(ctx context.Context, id string) (Subscriber, error)
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
	// SubscriberCreate stores sub. Errors: ErrConflict when a subscriber
	// of the same kind, address and service exists (or, improbably, the
	// token hash is taken).
	SubscriberCreate(ctx context.Context, sub Subscriber) error
	// SubscriberList is Store.SubscriberList inside the transaction.
	SubscriberList(ctx context.Context) ([]Subscriber, error)
	// SubscriberGetByTokenHash returns the subscriber whose unsubscribe
	// token hashes to hash. Errors: ErrNotFound.
	SubscriberGetByTokenHash(ctx context.Context, hash string) (Subscriber, error)
	// SubscriberDelete deletes a subscriber; it reports whether one was
	// there.
	SubscriberDelete(ctx context.Context, id string) (bool, error)
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
	// Notice is set instead of Page on a delivery of a status update, an
	// advisory or a reporter update.
	Notice        *Notice
	CreatedAt     time.Time
	UpdatedAt     time.Time
	NextAttemptAt time.Time // zero when none is scheduled
	SentAt        time.Time // zero until sent
}

// Topics a subscriber can follow.
const (
	// TopicStatus: external status updates (status_update.published with
	// audience external).
	TopicStatus = "status"
	// TopicAdvisories: vulnerability notices (vuln.notice_published).
	TopicAdvisories = "advisories"
)

// Subscriber kinds.
const (
	SubscriberEmail   = "email"
	SubscriberWebhook = "webhook"
)

// Subscriber receives published external status updates and advisories.
type Subscriber struct {
	ID string
	// Kind is SubscriberEmail or SubscriberWebhook; Address the email
	// address or the https URL.
	Kind    string
	Address string
	// Topics are sorted and distinct: TopicAdvisories, TopicStatus.
	Topics []string
	// Service, when set, limits the subscriber to updates and notices
	// about that service (or product).
	Service string
	// TokenHash is the hex SHA-256 of the unsubscribe token.
	TokenHash string
	CreatedAt time.Time
}

// Notice is a message that is not a page: a status update or an advisory
// to a subscriber, or a status email to a vulnerability reporter. It is
// rendered when the delivery is created and sent as is by every attempt;
// the unsubscribe link is added at send time, so no token is stored.
type Notice struct {
	// Topic is TopicStatus, TopicAdvisories or TopicReporter.
	Topic string `json:"topic"`
	// EventType is the type of the event the notice comes from.
	EventType string `json:"event_type"`
	// SubscriberID is empty for a reporter update.
	SubscriberID string `json:"subscriber_id,omitempty"`
	// Address is the email address or webhook URL.
	Address string `json:"address"`
	Subject string `json:"subject"`
	Body    string `json:"body"`
	// URL links to the update or advisory (empty without a public URL).
	URL string `json:"url,omitempty"`
	// Data is the event's data, which webhooks receive.
	Data json.RawMessage `json:"data,omitempty"`
}
