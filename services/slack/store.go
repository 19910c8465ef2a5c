package slack

import (
	"context"
	"errors"
	"time"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/fault"
)

// ErrNotFound is returned by the store when a row does not exist.
var ErrNotFound = fault.New(fault.NotFound, "not_found", "not found")

// Incident is the slack service's projection of an incident: what its
// message shows, and where the message and the incident's channel are.
type Incident struct {
	ID             string
	Number         int64
	Title          string
	Severity       string
	Service        string
	Status         string
	AlertCount     int64
	Assignee       string
	AcknowledgedBy string
	ResolvedBy     string
	// Version is the incident's version of the last status change applied.
	Version   int64
	UpdatedAt time.Time
	// Channel and MessageTS locate the incident message ("" until posted).
	Channel   string
	MessageTS string
	// IncChannel is the incident's own channel (#inc-42-…) and IncMessageTS
	// the incident message in it.
	IncChannel   string
	IncMessageTS string
	// Topic is the incident channel's topic as last set.
	Topic string
}

// Key is the incident's human name, INC-<number>.
func (i Incident) Key() string {
	if i.Number == 0 {
		return "INC-?"
	}
	return "INC-" + itoa(i.Number)
}

// Effect kinds: what the service still has to do in Slack.
const (
	// EffectMessage posts the incident message, or updates it to the
	// current projection (and the incident channel's topic).
	EffectMessage = "message"
	// EffectThread posts Text in the message's thread.
	EffectThread = "thread"
	// EffectChannel creates the incident's channel, invites responders and
	// posts the message there.
	EffectChannel = "channel"
)

// Effect is one pending Slack call for an incident, written in the
// transaction that applied the event that caused it.
type Effect struct {
	Seq        int64
	IncidentID string
	Kind       string
	// DedupKey makes adding the same effect twice a no-op.
	DedupKey  string
	Text      string
	CreatedAt time.Time
}

// UserLink links a Slack user to a firebreak user.
type UserLink struct {
	SlackUserID string
	FirebreakID string
	Email       string
	Name        string
	// Provisioned says firebreak created the responder for this Slack
	// user (AutoProvision) rather than finding one by email.
	Provisioned bool
	LinkedAt    time.Time
}

// IssuedCommand is a command sent on behalf of a Slack user, kept to tell
// them when it is rejected.
type IssuedCommand struct {
	CommandID   string
	SlackUserID string
	Channel     string
	IncidentID  string
	CreatedAt   time.Time
}

// Store keeps the slack service's state. Get methods return ErrNotFound for
// a missing row.
type Store interface {
	// InTx runs fn in one transaction.
	InTx(ctx context.Context, fn func(Tx) error) error
	IncidentGet(ctx context.Context, id string) (Incident, error)
	// IncidentByNumber finds an incident by its number (INC-42).
	IncidentByNumber(ctx context.Context, number int64) (Incident, error)
	// IncidentByChannel finds the incident whose own channel is channel.
	IncidentByChannel(ctx context.Context, channel string) (Incident, error)
	IncidentSetMessage(ctx context.Context, id, channel, ts string) error
	IncidentSetChannel(ctx context.Context, id, channel, ts string) error
	IncidentSetTopic(ctx context.Context, id, topic string) error
	// Effects lists an incident's pending effects, oldest first.
	Effects(ctx context.Context, incidentID string) ([]Effect, error)
	// EffectIncidents lists up to limit incidents with pending effects.
	EffectIncidents(ctx context.Context, limit int) ([]string, error)
	EffectDelete(ctx context.Context, seq int64) error
	// FlushClaim takes, or renews, owner's lease on an incident's effects
	// until the given time; false means another owner holds an unexpired
	// lease (another replica is performing them).
	FlushClaim(ctx context.Context, incidentID, owner string, until time.Time) (bool, error)
	// FlushRelease gives owner's lease up.
	FlushRelease(ctx context.Context, incidentID, owner string) error
	UserGet(ctx context.Context, slackUserID string) (UserLink, error)
	// UserByFirebreakID finds the Slack user most recently linked to a
	// firebreak user.
	UserByFirebreakID(ctx context.Context, id string) (UserLink, error)
	UserSave(ctx context.Context, u UserLink) error
	CommandGet(ctx context.Context, commandID string) (IssuedCommand, error)
}

// Tx is the transaction of Store.InTx.
type Tx interface {
	// MarkProcessed records that consumer handled msgID; false means it
	// had already.
	MarkProcessed(ctx context.Context, consumer, msgID string) (bool, error)
	IncidentGet(ctx context.Context, id string) (Incident, error)
	// IncidentPut writes the projection fields of inc (not where its
	// messages are).
	IncidentPut(ctx context.Context, inc Incident) error
	// EffectAdd adds an effect unless one with its DedupKey is pending.
	EffectAdd(ctx context.Context, e Effect) error
	CommandAdd(ctx context.Context, c IssuedCommand) error
	// Emit writes envelopes to the outbox.
	Emit(ctx context.Context, envs ...events.Envelope) error
	// FlushClaim is Store.FlushClaim within the transaction: an event's
	// effects and the lease to perform them commit together.
	FlushClaim(ctx context.Context, incidentID, owner string, until time.Time) (bool, error)
	// FlushDone deletes the performed effects done (seqs; unknown ones
	// are ignored) and gives owner's lease on the incident up.
	FlushDone(ctx context.Context, incidentID, owner string, done []int64) error
}

// IsNotFound reports whether err is ErrNotFound.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }
