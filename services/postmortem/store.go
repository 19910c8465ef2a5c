package postmortem

import (
	"context"
	"time"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/timer"
)

// Reader reads the service's state. Getters return ErrNotFound for a row
// that does not exist.
type Reader interface {
	IncidentGet(ctx context.Context, id string) (Incident, error)
	IncidentByNumber(ctx context.Context, number int64) (Incident, error)
	// IncidentsTriggered lists the incidents triggered in [since, until).
	IncidentsTriggered(ctx context.Context, since, until time.Time) ([]Incident, error)
	// Timeline lists an incident's entries by time, then event id; with
	// details, each with its event's data.
	Timeline(ctx context.Context, incidentID string, details bool) ([]Entry, error)
	// TimelineJSON appends add(dst, entry) to dst for each of an
	// incident's entries in timeline order, entry being its EntryJSON
	// (valid only during the call), and returns dst and the number of
	// entries. Entries not rendered yet (projected before the store kept
	// their JSON) are rendered and saved first; when the store has to
	// start over for that, it cuts dst back to its length at the call.
	TimelineJSON(ctx context.Context, incidentID string, dst []byte, add func(dst, entry []byte) ([]byte, error)) ([]byte, int, error)
	// TimelineLen is how many entries an incident's timeline has. Entries
	// are only ever added, so it changes with every change to the list.
	TimelineLen(ctx context.Context, incidentID string) (int64, error)
	// Pages lists the pages requested in [since, until).
	Pages(ctx context.Context, since, until time.Time) ([]Page, error)
	PostmortemGet(ctx context.Context, id string) (Postmortem, error)
	PostmortemByIncident(ctx context.Context, incidentID string) (Postmortem, error)
	Revisions(ctx context.Context, postmortemID string) ([]Revision, error)
	ActionItemGet(ctx context.Context, id string) (ActionItem, error)
	ActionItems(ctx context.Context, f ActionItemFilter) ([]ActionItem, error)
	StatusUpdateGet(ctx context.Context, id string) (StatusUpdate, error)
	StatusUpdates(ctx context.Context, incidentID string) ([]StatusUpdate, error)
	// StatusFeed lists the newest published external updates first.
	StatusFeed(ctx context.Context, limit int) ([]StatusUpdate, error)
}

// Store is the service's storage.
type Store interface {
	Reader
	// InTx runs fn in one transaction; it may run fn again on ErrConflict.
	InTx(ctx context.Context, fn func(Tx) error) error
	// FireTimer deletes a due timer and applies fn's effect in one
	// transaction (timer.ErrGone when the timer is no longer this
	// runner's).
	FireTimer(ctx context.Context, t timer.Timer, fn func(Tx) error) error
	// Timers is the source the timer runner polls.
	Timers() timer.Source
}

// Tx is the store inside one transaction.
type Tx interface {
	Reader
	// MarkProcessed records msgID for consumer; false when it already was.
	MarkProcessed(ctx context.Context, consumer, msgID string) (bool, error)
	// Emit puts events in the outbox, published after commit.
	Emit(ctx context.Context, envs ...events.Envelope) error
	ScheduleTimer(ctx context.Context, t timer.Timer) error
	CancelTimer(ctx context.Context, kind, key string) (bool, error)

	// IncidentInsert adds an incident; false when its id is known.
	IncidentInsert(ctx context.Context, i Incident) (bool, error)
	// IncidentUpdate saves an incident's lifecycle fields (not its alert
	// count).
	IncidentUpdate(ctx context.Context, i Incident) error
	// IncidentAlertsAdd adds n to an incident's alert count.
	IncidentAlertsAdd(ctx context.Context, id string, n int64) error
	// IncidentAtKey is the incident of (service, dedup key) open at t.
	// The incident of its own dedup key comes first, else the one the key
	// joined (KeyJoin).
	IncidentAtKey(ctx context.Context, service, dedupKey string, t time.Time) (Incident, error)
	// KeyJoin records that (service, dedup key) joined incident incidentID
	// at t (grouped or merged): its alerts from then on are the incident's.
	// Joining twice is a no-op.
	KeyJoin(ctx context.Context, service, dedupKey, incidentID string, t time.Time) error
	// EntryAdd adds a timeline entry; false when its event id is known.
	EntryAdd(ctx context.Context, e Entry) (bool, error)
	// AlertsAttach gives the waiting alerts of (service, dedup key)
	// received at or after since to an incident.
	AlertsAttach(ctx context.Context, service, dedupKey, incidentID string, since time.Time) (int64, error)
	PageAdd(ctx context.Context, p Page) error
	PostmortemInsert(ctx context.Context, p Postmortem) error
	// PostmortemUpdate saves p if the stored revision is still base,
	// else ErrStaleRevision.
	PostmortemUpdate(ctx context.Context, p Postmortem, base int64) error
	RevisionAdd(ctx context.Context, r Revision) error
	ActionItemInsert(ctx context.Context, a ActionItem) error
	ActionItemUpdate(ctx context.Context, a ActionItem) error
	StatusUpdateInsert(ctx context.Context, u StatusUpdate) error
	// StatusUpdateUpdate saves u if the stored state is still from, else
	// ErrConflict.
	StatusUpdateUpdate(ctx context.Context, u StatusUpdate, from string) error
}
