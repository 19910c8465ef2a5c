package incident

import (
	"context"
	"time"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/timer"
)

// Store is what the incident service needs from its database. The SQLite and
// PostgreSQL adapters in store/ implement it; storetest/ is the contract both
// pass.
type Store interface {
	// InTx runs fn in one transaction: everything fn does through tx,
	// including outbox and inbox writes, commits or rolls back together. When
	// fn returns an error the transaction rolls back and InTx returns it.
	// InTx retries fn (on a fresh transaction) when the engine reports a
	// serialization failure or a unique-key race; fn must be safe to re-run.
	InTx(ctx context.Context, fn func(tx Tx) error) error
	// FireTimer runs fn for a claimed timer in one transaction that also
	// deletes the timer, so the timer's effect happens once. It returns
	// timer.ErrGone (and does not call fn) when the timer was cancelled or
	// claimed by another runner.
	FireTimer(ctx context.Context, t timer.Timer, fn func(tx Tx) error) error
	// Timers is the source a timer.Runner claims due timers from.
	Timers() timer.Source

	// IncidentGet returns an incident by id or by number (ref.Number > 0).
	// Errors: ErrNotFound.
	IncidentGet(ctx context.Context, ref Ref) (Incident, error)
	// IncidentList returns incidents newest first (by number) matching f,
	// at most f.Limit, starting after f.AfterNumber when it is > 0.
	IncidentList(ctx context.Context, f ListFilter) ([]Incident, error)
	// NoteList returns an incident's notes, oldest first.
	NoteList(ctx context.Context, incidentID string) ([]Note, error)
	// ActionList returns an incident's containment and mitigation actions,
	// oldest first.
	ActionList(ctx context.Context, incidentID string) ([]Action, error)
	// ResponderList returns an incident's responders, in the order added.
	ResponderList(ctx context.Context, incidentID string) ([]Responder, error)
	// HeartbeatList returns every heartbeat monitor, by name.
	HeartbeatList(ctx context.Context) ([]Heartbeat, error)
	// ServiceList returns every technical service, by name.
	ServiceList(ctx context.Context) ([]TechService, error)
	// ServiceGet returns a technical service by name. Errors: ErrNotFound.
	ServiceGet(ctx context.Context, name string) (TechService, error)
	// AlertStore serves an incident's alerts.
	AlertStore
}

// Tx is the transactional view of the store handed to Store.InTx's fn.
type Tx interface {
	// MarkProcessed records in the inbox that consumer applied msgID; it
	// reports false when that message was applied before.
	MarkProcessed(ctx context.Context, consumer, msgID string) (bool, error)
	// Emit writes envelopes to the outbox.
	Emit(ctx context.Context, envs ...events.Envelope) error
	// TimerSchedule schedules t, replacing a timer of the same kind and key.
	TimerSchedule(ctx context.Context, t timer.Timer) error
	// TimerCancel cancels the timer of kind and key; it reports whether one
	// was pending.
	TimerCancel(ctx context.Context, kind, key string) (bool, error)

	// ServiceGet returns a technical service by name. Errors: ErrNotFound.
	ServiceGet(ctx context.Context, name string) (TechService, error)
	// ServiceCreate creates a technical service; creating an existing name
	// returns the existing one.
	ServiceCreate(ctx context.Context, s TechService) (TechService, error)

	// IncidentGet is Store.IncidentGet inside the transaction.
	IncidentGet(ctx context.Context, ref Ref) (Incident, error)
	// IncidentOpenByDedup returns the open (Status.Open) incident of
	// (service, dedupKey): the one whose own dedup key it is, else the
	// newest open incident the key joined (MemberAdd). Errors: ErrNotFound.
	IncidentOpenByDedup(ctx context.Context, service, dedupKey string) (Incident, error)
	// IncidentOpenByGroup returns the newest open incident of service with
	// group key groupKey (not "") created at or after since.
	// Errors: ErrNotFound.
	IncidentOpenByGroup(ctx context.Context, service, groupKey string, since time.Time) (Incident, error)
	// MemberAdd makes events of (service, dedupKey) find incidentID while
	// it is open (IncidentOpenByDedup); adding a member twice is a no-op.
	MemberAdd(ctx context.Context, service, dedupKey, incidentID string, at time.Time) error
	// MemberCount counts the dedup keys that joined an incident.
	MemberCount(ctx context.Context, incidentID string) (int64, error)
	// MembersCopy makes every dedup key that joined incident src join dst.
	MembersCopy(ctx context.Context, src, dst string, at time.Time) error
	// IncidentCreate inserts inc with the next incident number, which it
	// returns. inc.ID is set by the caller. Errors: ErrConflict when another
	// open incident already has the same (service, dedup key).
	IncidentCreate(ctx context.Context, inc Incident) (int64, error)
	// IncidentUpdate writes inc if the stored version is still
	// expectedVersion; inc.Version must be expectedVersion+1.
	// Errors: ErrVersionConflict.
	IncidentUpdate(ctx context.Context, inc Incident, expectedVersion int64) error
	// NoteAdd stores a note and returns its id.
	NoteAdd(ctx context.Context, n Note) (int64, error)
	// ActionAdd stores a containment or mitigation action and returns its id.
	// Errors: ErrNotFound for an unknown incident.
	ActionAdd(ctx context.Context, a Action) (int64, error)
	// ResponderAdd adds a responder to an incident; it reports false when
	// the user already was one. Errors: ErrNotFound for an unknown incident.
	ResponderAdd(ctx context.Context, r Responder) (bool, error)
	// HeartbeatCreate stores a new heartbeat monitor with the SHA-256 (hex)
	// of its key. Errors: ErrConflict when the name is taken.
	HeartbeatCreate(ctx context.Context, hb Heartbeat, keyHash string) error
	// HeartbeatGet returns a monitor by id. Errors: ErrNotFound.
	HeartbeatGet(ctx context.Context, id string) (Heartbeat, error)
	// HeartbeatByName returns a monitor by name. Errors: ErrNotFound.
	HeartbeatByName(ctx context.Context, name string) (Heartbeat, error)
	// HeartbeatByKeyHash returns the monitor whose key hashes to keyHash.
	// Errors: ErrNotFound.
	HeartbeatByKeyHash(ctx context.Context, keyHash string) (Heartbeat, error)
	// HeartbeatUpdate writes a monitor's status and last ping.
	// Errors: ErrNotFound.
	HeartbeatUpdate(ctx context.Context, hb Heartbeat) error
	// ServiceUpdate overwrites a technical service's settings (found by
	// name; the id and creation time stay). Errors: ErrNotFound.
	ServiceUpdate(ctx context.Context, s TechService) error
	// AlertTx records an incident's alerts.
	AlertTx
}

// Ref names an incident by id or by number.
type Ref struct {
	ID     string
	Number int64
}

// ListFilter selects incidents for IncidentList.
type ListFilter struct {
	Statuses    []Status // empty: any
	Service     string   // empty: any
	Assignee    string   // empty: any
	AfterNumber int64    // cursor: only numbers below this one (newest first); 0: from the newest
	Limit       int
}

// TechService is a technical service alerts and incidents belong to.
type TechService struct {
	ID          string
	Name        string
	Description string
	CreatedAt   time.Time
	// EscalationPolicy names the policy that pages for this service's
	// incidents ("" for none).
	EscalationPolicy string
	// AckTimeout re-escalates an acknowledged incident that is not resolved
	// in time (0: never). Stores keep it to the millisecond.
	AckTimeout time.Duration
	// AlertGrouping folds related alerts into one incident (nil: every
	// dedup key opens its own).
	AlertGrouping *events.AlertGrouping
	// SeverityMap overrides the alert-severity → SEV mapping for this
	// service, e.g. {"warning": "SEV2"}; missing keys use the default.
	// Stores give back nil for no overrides (whether nil or an empty map was
	// written), so a service round-trips with reflect.DeepEqual.
	SeverityMap map[string]string
}

// Action is a containment or mitigation step someone took.
type Action struct {
	ID         int64
	IncidentID string
	Kind       string // ActionContainment or ActionMitigation
	Text       string
	Actor      events.Actor
	CreatedAt  time.Time
}

// Kinds of actions.
const (
	ActionContainment = "containment"
	ActionMitigation  = "mitigation"
)

// Responder is a person working on an incident.
type Responder struct {
	IncidentID string
	User       string
	AddedBy    events.Actor
	AddedAt    time.Time
}

// Note is a free-text entry on an incident.
type Note struct {
	ID         int64
	IncidentID string
	Text       string
	Author     events.Actor
	CreatedAt  time.Time
}

// Heartbeat is a monitor that expects a ping at least every Interval.
type Heartbeat struct {
	ID       string
	Name     string
	Service  string
	Interval time.Duration
	// Status is HeartbeatNew until the first ping, then up or down.
	Status     string
	LastPingAt *time.Time
	CreatedAt  time.Time
}

// Heartbeat statuses.
const (
	HeartbeatNew  = "new"
	HeartbeatUp   = "up"
	HeartbeatDown = "down"
)
