package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	slackapi "github.com/slack-go/slack"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/bus"
	"github.com/firebreak-dev/firebreak/internal/fault"
)

// Register subscribes the service's consumers: every incident event (to
// keep the messages current) and command.rejected (to tell Slack users).
func (s *Service) Register(r *bus.Router) error {
	if err := r.Handle(bus.ConsumerConfig{
		Name: ConsumerIncidents, Stream: bus.StreamEvt, AckWait: s.cfg.AckWait, Workers: s.cfg.Workers,
		FilterSubjects: []string{events.SubjectEvtPrefix + "incident.>"},
	}, func(ctx context.Context, env events.Envelope) error {
		return busError(s.HandleIncidentEvent(ctx, env))
	}); err != nil {
		return err
	}
	return r.Handle(bus.ConsumerConfig{
		Name: ConsumerRejected, Stream: bus.StreamEvt, AckWait: s.cfg.AckWait,
		FilterSubjects: []string{events.SubjectFor(events.TypeCommandRejected)},
	}, func(ctx context.Context, env events.Envelope) error {
		return busError(s.HandleRejected(ctx, env))
	})
}

// busError maps the service's errors to bus outcomes: data that can never
// apply is dead-lettered; anything else (Slack or the database failing) is
// retried.
func busError(err error) error {
	if err != nil && fault.KindOf(err) == fault.Invalid {
		return bus.Permanent(err)
	}
	return err
}

var errBadEvent = fault.New(fault.Invalid, "bad_event", "cannot read event")

// incidentEvent holds the fields of every incident event's data the
// projection uses; each event type fills some of them.
type incidentEvent struct {
	events.IncidentRef
	Service  string             `json:"service"`
	Title    string             `json:"title"`
	Severity string             `json:"severity"`
	From     string             `json:"from"`
	To       json.RawMessage    `json:"to"`
	Note     string             `json:"note"`
	Level    int                `json:"level"`
	Action   string             `json:"action"`
	Assignee string             `json:"assignee"`
	Text     string             `json:"text"`
	User     string             `json:"user"`
	Reason   string             `json:"reason"`
	Into     events.IncidentRef `json:"into"`
	Minutes  int                `json:"minutes"`
	// AlertCount is the incident's alert count (alerts_coalesced,
	// alert_grouped); DedupKey and Summary are the joining alert's.
	AlertCount int64  `json:"alert_count"`
	DedupKey   string `json:"dedup_key"`
	Summary    string `json:"summary"`
}

// HandleIncidentEvent applies an incident event to the projection and
// records, in the same transaction, what it changes in Slack; then it
// performs those effects. A redelivered event changes nothing and only
// retries the effects still pending.
func (s *Service) HandleIncidentEvent(ctx context.Context, env events.Envelope) error {
	var ev incidentEvent
	if err := json.Unmarshal(env.Data, &ev); err != nil || ev.IncidentID == "" {
		return fault.Wrap(errBadEvent, "%s %s: no incident in data", env.Type, env.ID)
	}
	// Events of one incident are applied one at a time (two read-modify-
	// write transactions on PostgreSQL would otherwise lose an update).
	unlock := s.lock(ev.IncidentID)
	defer unlock()
	var first, claimed bool
	err := s.inSharedTx(ctx, false, func(tx Tx) error {
		var err error
		first, claimed = false, false
		first, err = tx.MarkProcessed(ctx, ConsumerIncidents, env.ID)
		if err != nil || !first {
			return err
		}
		inc, err := tx.IncidentGet(ctx, ev.IncidentID)
		if IsNotFound(err) {
			inc, err = Incident{ID: ev.IncidentID, UpdatedAt: env.Time}, nil
		}
		if err != nil {
			return err
		}
		wasChannelSev := slices.Contains(s.cfg.ChannelSeverities, inc.Severity)
		thread := apply(&inc, env, ev)
		if env.Time.After(inc.UpdatedAt) {
			inc.UpdatedAt = env.Time
		}
		if err := tx.IncidentPut(ctx, inc); err != nil {
			return err
		}
		now := s.now()
		if err := tx.EffectAdd(ctx, Effect{IncidentID: inc.ID, Kind: EffectMessage, DedupKey: "message:" + env.ID, CreatedAt: now}); err != nil {
			return err
		}
		if thread != "" {
			if err := tx.EffectAdd(ctx, Effect{IncidentID: inc.ID, Kind: EffectThread, DedupKey: "thread:" + env.ID, Text: thread, CreatedAt: now}); err != nil {
				return err
			}
		}
		if !wasChannelSev && slices.Contains(s.cfg.ChannelSeverities, inc.Severity) && inc.Number > 0 {
			invite, err := s.responders(ctx, env)
			if err != nil {
				return err
			}
			// One channel per incident: the dedup key is the incident's.
			if err := tx.EffectAdd(ctx, Effect{IncidentID: inc.ID, Kind: EffectChannel, DedupKey: "channel:" + inc.ID, Text: invite, CreatedAt: now}); err != nil {
				return err
			}
		}
		// The lease to perform them, in the same write. When another
		// replica holds it, these effects are still not left behind: its
		// release (FlushDone) is ordered after this transaction (SQLite has
		// one writer; on PostgreSQL the claim's upsert locks the lease row
		// even when it does not take it), and the holder looks for effects
		// again after releasing.
		claimed, err = tx.FlushClaim(ctx, inc.ID, s.owner, now.Add(flushLease))
		return err
	})
	switch {
	case err != nil:
		return err
	case first && !claimed:
		// Another replica holds the lease; it finds these effects after
		// giving it up.
		return nil
	}
	// A redelivered event (not first) retries the effects still pending.
	return s.flushLocked(ctx, ev.IncidentID, claimed)
}

// responders are the Slack users to invite into a new incident channel:
// the person who caused the event, when they are linked.
func (s *Service) responders(ctx context.Context, env events.Envelope) (string, error) {
	if env.Actor.Kind != events.ActorUser {
		return "", nil
	}
	u, err := s.store.UserByFirebreakID(ctx, env.Actor.ID)
	if IsNotFound(err) {
		return "", nil
	}
	return u.SlackUserID, err
}

// actorName is how the message names who did something.
func actorName(a events.Actor) string {
	name := a.ID
	if a.Name != "" && a.Name != a.ID {
		name = a.Name + " (" + a.ID + ")"
	}
	if a.Channel != "" {
		name += " via " + string(a.Channel)
	}
	return name
}

// apply changes the projection by one event and returns what to post in
// the message's thread ("" for nothing). Status changes apply only when
// newer than the last one applied, so events handled out of order never
// move the message backwards.
func apply(inc *Incident, env events.Envelope, ev incidentEvent) string {
	who := actorName(env.Actor)
	if ev.Number > 0 {
		inc.Number = ev.Number
	}
	newer := ev.Version > inc.Version
	status := func(to string) {
		if newer {
			inc.Status, inc.Version = to, ev.Version
		}
	}
	var to string
	_ = json.Unmarshal(ev.To, &to)
	suffix := func(s string) string {
		if s == "" {
			return ""
		}
		return ": " + s
	}
	switch env.Type {
	case events.TypeIncidentTriggered:
		inc.Title, inc.Severity, inc.Service = ev.Title, ev.Severity, ev.Service
		if inc.AlertCount == 0 {
			inc.AlertCount = 1
		}
		if inc.Status == "" {
			inc.Status, inc.Version = "triggered", max(inc.Version, ev.Version)
		}
		return ""
	case events.TypeIncidentAcknowledged:
		status(to)
		if newer {
			inc.AcknowledgedBy = who
		}
		return fmt.Sprintf(":eyes: Acknowledged by %s%s", who, suffix(ev.Note))
	case events.TypeIncidentEscalated:
		status(to)
		if ev.Level > 0 {
			return fmt.Sprintf(":rotating_light: Escalated to level %d by %s%s", ev.Level, who, suffix(ev.Note))
		}
		return fmt.Sprintf(":rotating_light: Escalated by %s%s", who, suffix(ev.Note))
	case events.TypeIncidentContained:
		status(to)
		return fmt.Sprintf(":shield: Contained by %s%s", who, suffix(ev.Action))
	case events.TypeIncidentMitigated:
		status(to)
		return fmt.Sprintf(":adhesive_bandage: Mitigated by %s%s", who, suffix(ev.Action))
	case events.TypeIncidentResolved:
		status(to)
		if newer {
			inc.ResolvedBy = who
		}
		return fmt.Sprintf(":white_check_mark: Resolved by %s%s", who, suffix(ev.Note))
	case events.TypeIncidentReopened:
		status(to)
		if newer {
			inc.AcknowledgedBy, inc.ResolvedBy = "", ""
		}
		return fmt.Sprintf(":repeat: Reopened by %s%s", who, suffix(ev.Note))
	case events.TypeIncidentPostmortem:
		status(to)
		return fmt.Sprintf(":memo: Post-mortem started by %s", who)
	case events.TypeIncidentClosed:
		status(to)
		return fmt.Sprintf(":lock: Closed by %s", who)
	case events.TypeIncidentMerged:
		status("resolved")
		return fmt.Sprintf(":link: Merged into INC-%d by %s", ev.Into.Number, who)
	case events.TypeIncidentAssigned:
		if newer {
			inc.Assignee, inc.Version = ev.Assignee, ev.Version
		}
		return fmt.Sprintf(":bust_in_silhouette: Assigned to %s by %s%s", ev.Assignee, who, suffix(ev.Note))
	case events.TypeIncidentSeverity:
		if newer {
			inc.Severity, inc.Version = to, ev.Version
		}
		return fmt.Sprintf(":warning: Severity %s → %s by %s%s", ev.From, to, who, suffix(ev.Reason))
	case events.TypeIncidentNoteAdded:
		return fmt.Sprintf(":speech_balloon: Note by %s: %s", who, ev.Text)
	case events.TypeIncidentResponder:
		return fmt.Sprintf(":wave: %s joined the response (added by %s)", ev.User, who)
	case events.TypeIncidentAlertsCoalesced:
		inc.AlertCount = max(inc.AlertCount, ev.AlertCount)
		return ""
	case events.TypeIncidentAlertGrouped:
		inc.AlertCount = max(inc.AlertCount, ev.AlertCount)
		return fmt.Sprintf(":heavy_plus_sign: Alert `%s` joined%s", ev.DedupKey, suffix(ev.Summary))
	case events.TypeIncidentSnoozed:
		return fmt.Sprintf(":zzz: Snoozed for %d minutes by %s%s", ev.Minutes, who, suffix(ev.Note))
	}
	return ""
}

// HandleRejected tells a Slack user, ephemerally where they issued it,
// that firebreak refused their command and why. Rejections of commands
// that did not come from Slack are not this service's.
func (s *Service) HandleRejected(ctx context.Context, env events.Envelope) error {
	var r events.CommandRejected
	if err := env.DecodeData(&r); err != nil {
		return fault.Wrap(errBadEvent, "%s: %v", env.ID, err)
	}
	c, err := s.store.CommandGet(ctx, r.CommandID)
	if IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	text := fmt.Sprintf(":no_entry: firebreak did not %s: %s", commandVerb(r.CommandType), r.Reason)
	_, err = s.api.PostEphemeralContext(ctx, c.Channel, c.SlackUserID, slackapi.MsgOptionText(text, false))
	if isSlackError(err, "user_not_in_channel") || isSlackError(err, "channel_not_found") {
		// Nowhere to show it; retrying will not help.
		s.log.Warn("slack: cannot tell user about a rejected command", "user", c.SlackUserID, "channel", c.Channel, "err", err)
		return nil
	}
	return err
}

// commandVerb names a command type for people ("acknowledge INC-42").
func commandVerb(typ string) string {
	v := strings.TrimPrefix(typ, "incident.")
	return strings.ReplaceAll(v, "_", " ")
}
