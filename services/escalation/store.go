package escalation

import (
	"context"
	"time"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/timer"
)

// Store is what the escalation service needs from its database (migration
// sets "outbox", "timer" and "escalation"). The SQLite and PostgreSQL
// adapters in store/ implement it; storetest/ is the contract both pass.
type Store interface {
	// InTx runs fn in one transaction: everything fn does through tx,
	// including outbox, inbox and timer writes, commits or rolls back
	// together. When fn returns an error the transaction rolls back and InTx
	// returns it. InTx re-runs fn on a fresh transaction when it fails with
	// ErrConflict or the engine reports a serialization failure, a deadlock
	// or a unique-key race; fn must be safe to re-run.
	InTx(ctx context.Context, fn func(tx Tx) error) error
	// FireTimer runs fn for a claimed timer in one transaction that also
	// deletes the timer, so the timer's effect happens once. It returns
	// timer.ErrGone (and does not call fn) when the timer was cancelled,
	// replaced or claimed by another runner.
	FireTimer(ctx context.Context, t timer.Timer, fn func(tx Tx) error) error
	// Timers is the source a timer.Runner claims due timers from.
	Timers() timer.Source

	// ConfigGet returns the whole paging configuration; a store never
	// written returns the zero Config.
	ConfigGet(ctx context.Context) (Config, error)
	// MaintenanceActive returns the maintenance window of service covering
	// t (the earliest-starting one when several do) and whether there is
	// one.
	MaintenanceActive(ctx context.Context, service string, t time.Time) (MaintenanceWindow, bool, error)
	// EscalationGet returns the escalation of an incident.
	// Errors: ErrNotFound.
	EscalationGet(ctx context.Context, incidentID string) (Escalation, error)
	// EscalationList returns every escalation, oldest first.
	EscalationList(ctx context.Context) ([]Escalation, error)
}

// Tx is the transactional view of the store handed to Store.InTx's fn.
type Tx interface {
	// MarkProcessed records in the inbox that consumer applied msgID; it
	// reports false when that message was applied before.
	MarkProcessed(ctx context.Context, consumer, msgID string) (bool, error)
	// Emit writes envelopes to the outbox. An envelope whose id is already
	// in the outbox is skipped.
	Emit(ctx context.Context, envs ...events.Envelope) error
	// ScheduleTimer schedules t, replacing a timer of the same kind and key.
	ScheduleTimer(ctx context.Context, t timer.Timer) error
	// CancelTimer cancels the timer of kind and key; it reports whether one
	// was pending.
	CancelTimer(ctx context.Context, kind, key string) (bool, error)
	// TimerGet returns the pending timer of kind and key.
	// Errors: timer.ErrNotFound.
	TimerGet(ctx context.Context, kind, key string) (timer.Timer, error)

	// ConfigGet is Store.ConfigGet inside the transaction. It also notes
	// the configuration's version, so that a later ConfigReplace in the
	// same transaction fails with ErrConflict when another transaction
	// replaced the configuration in between.
	ConfigGet(ctx context.Context) (Config, error)
	// ConfigVersion returns the configuration's version, which every
	// ConfigReplace raises.
	ConfigVersion(ctx context.Context) (int64, error)
	// ConfigReplace replaces the whole configuration with c. Stores keep
	// AckTimeout to the millisecond and maintenance-window times to the
	// microsecond, in UTC, and give back nil for empty lists and maps.
	// Errors: ErrConflict (see ConfigGet).
	ConfigReplace(ctx context.Context, c Config) error
	// MaintenanceActive is Store.MaintenanceActive inside the transaction.
	MaintenanceActive(ctx context.Context, service string, t time.Time) (MaintenanceWindow, bool, error)
	// EscalationGet is Store.EscalationGet inside the transaction.
	// Errors: ErrNotFound.
	EscalationGet(ctx context.Context, incidentID string) (Escalation, error)
	// EscalationPut creates or overwrites the escalation of e.IncidentID.
	// Stores keep times to the microsecond, in UTC.
	EscalationPut(ctx context.Context, e Escalation) error
}

// EscalationStatus says whether an escalation still pages.
type EscalationStatus string

// The escalation statuses.
const (
	// StatusActive pages level after level until someone acknowledges.
	StatusActive EscalationStatus = "active"
	// StatusStopped pages nobody: the incident was acknowledged, resolved,
	// merged or closed, or the policy ran out of levels.
	StatusStopped EscalationStatus = "stopped"
)

// Escalation is the runtime state of paging for one incident.
type Escalation struct {
	IncidentID string
	Number     int64
	Service    string
	Title      string
	Severity   string
	// Policy names the policy paging; it is fixed when the escalation
	// starts (a later configuration change takes effect at the next
	// level).
	Policy string
	// Level is the last level paged, counted from 1 across repeats: with
	// two levels, level 3 is the first level's second round.
	Level  int
	Status EscalationStatus
	// Round counts (re)starts of the escalation: 1 when the incident
	// triggered, one more on each reopen. It keeps page idempotency keys of
	// a reopened incident apart from the first round's.
	Round int
	// NotifyTimers are the keys of the pending notification-rule timers
	// (kind TimerNotify), cancelled when the escalation stops.
	NotifyTimers []string
	StartedAt    time.Time
	UpdatedAt    time.Time
}
