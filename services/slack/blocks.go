package slack

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	slackapi "github.com/slack-go/slack"
)

// IncidentView is what the incident message shows. It is this package's
// own, filled from the incident service's JSON by the caller, so that Slack
// does not depend on services/incident.
type IncidentView struct {
	ID             string // the incident id, the buttons' value
	Key            string // INC-<number>
	Title          string
	Severity       string // SEV1…SEV4
	Service        string
	Status         string // a services/incident status: triggered, acknowledged, …
	AlertCount     int64
	Assignee       string
	AcknowledgedBy string
	ResolvedBy     string
	UpdatedAt      time.Time
}

// The action_id of each button on an incident message; the value is the
// incident id.
const (
	ActionAcknowledge = "incident.acknowledge"
	ActionEscalate    = "incident.escalate"
	ActionContain     = "incident.contain"
	ActionMitigate    = "incident.mitigate"
	ActionResolve     = "incident.resolve"
	// ActionTimeline is the link button to the timeline; Slack reports a
	// click on it too, which needs no answer.
	ActionTimeline = "incident.timeline"
)

// BlockIDActions is the block_id of the message's buttons.
const BlockIDActions = "incident.actions"

// actions lists the buttons each status offers: the transitions
// services/incident allows from it (its allowed table), in lifecycle order.
// A status not listed (resolved, postmortem, closed, unknown) offers only
// the timeline.
var actions = map[string][]string{
	"triggered":    {ActionAcknowledge, ActionEscalate, ActionResolve},
	"escalated":    {ActionAcknowledge, ActionEscalate, ActionResolve},
	"acknowledged": {ActionEscalate, ActionContain, ActionMitigate, ActionResolve},
	"contained":    {ActionMitigate, ActionResolve},
	"mitigated":    {ActionResolve},
}

var buttonLabel = map[string]string{
	ActionAcknowledge: "Acknowledge",
	ActionEscalate:    "Escalate",
	ActionContain:     "Contain",
	ActionMitigate:    "Mitigate",
	ActionResolve:     "Resolve",
}

// Slack's limits on what the message uses.
const (
	maxHeaderLen = 150
	maxFieldLen  = 2000
)

// IncidentMessage renders an incident as a Block Kit message: a header with
// its key and title, its facts, when it last changed, and the buttons its
// status allows plus a link to its timeline under baseURL (firebreak's
// public URL). Text is the notification fallback.
func IncidentMessage(inc IncidentView, baseURL string) slackapi.Msg {
	header := truncate(inc.Key+": "+inc.Title, maxHeaderLen)

	fields := []*slackapi.TextBlockObject{
		field("Severity", inc.Severity),
		field("Service", inc.Service),
		field("Status", statusLabel(inc.Status)),
		field("Alerts", strconv.FormatInt(inc.AlertCount, 10)),
		field("Assignee", or(inc.Assignee, "unassigned")),
	}
	if inc.AcknowledgedBy != "" {
		fields = append(fields, field("Acknowledged by", inc.AcknowledgedBy))
	}
	if inc.ResolvedBy != "" {
		fields = append(fields, field("Resolved by", inc.ResolvedBy))
	}

	blocks := []slackapi.Block{
		slackapi.NewHeaderBlock(slackapi.NewTextBlockObject(slackapi.PlainTextType, header, false, false)),
		slackapi.NewSectionBlock(nil, fields, nil),
	}
	if !inc.UpdatedAt.IsZero() {
		// Slack shows <!date…> in the reader's time zone; the text after | is
		// the fallback for clients that cannot.
		u := inc.UpdatedAt.UTC()
		updated := fmt.Sprintf("<!date^%d^Updated {date_short_pretty} at {time}|Updated %s>", u.Unix(), u.Format("2006-01-02 15:04 UTC"))
		blocks = append(blocks, slackapi.NewContextBlock("", slackapi.NewTextBlockObject(slackapi.MarkdownType, updated, false, false)))
	}

	var buttons []slackapi.BlockElement
	for _, id := range actions[inc.Status] {
		b := slackapi.NewButtonBlockElement(id, inc.ID, slackapi.NewTextBlockObject(slackapi.PlainTextType, buttonLabel[id], false, false))
		switch id {
		case ActionAcknowledge:
			b = b.WithStyle(slackapi.StylePrimary)
		case ActionResolve:
			b = b.WithStyle(slackapi.StyleDanger).WithConfirm(slackapi.NewConfirmationBlockObject(
				slackapi.NewTextBlockObject(slackapi.PlainTextType, "Resolve "+inc.Key+"?", false, false),
				slackapi.NewTextBlockObject(slackapi.PlainTextType, "This marks the incident resolved.", false, false),
				slackapi.NewTextBlockObject(slackapi.PlainTextType, "Resolve", false, false),
				slackapi.NewTextBlockObject(slackapi.PlainTextType, "Cancel", false, false),
			))
		}
		buttons = append(buttons, b)
	}
	timeline := slackapi.NewButtonBlockElement(ActionTimeline, inc.ID, slackapi.NewTextBlockObject(slackapi.PlainTextType, "Timeline", false, false)).
		WithURL(TimelineURL(baseURL, inc.Key))
	buttons = append(buttons, timeline)
	blocks = append(blocks, slackapi.NewActionBlock(BlockIDActions, buttons...))

	return slackapi.Msg{
		Text:   fmt.Sprintf("%s [%s] %s (%s)", inc.Key, inc.Severity, inc.Title, inc.Status),
		Blocks: slackapi.Blocks{BlockSet: blocks},
	}
}

// TimelineURL is the API address of an incident's timeline.
func TimelineURL(baseURL, key string) string {
	return strings.TrimRight(baseURL, "/") + "/api/v1/incidents/" + url.PathEscape(key) + "/timeline"
}

func field(name, value string) *slackapi.TextBlockObject {
	// Cut before escaping, so no entity is cut in half; an escaped rune takes
	// at most 5 bytes, which keeps the field under Slack's limit.
	return slackapi.NewTextBlockObject(slackapi.MarkdownType, "*"+name+"*\n"+escape(truncate(value, maxFieldLen/8)), false, false)
}

// escape makes text literal in mrkdwn, where &, < and > are control
// characters (<!channel> would ping everyone).
func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func statusLabel(s string) string {
	if s == "" {
		return "unknown"
	}
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:]
}

func or(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}

// truncate cuts s to at most n runes, marking the cut with an ellipsis.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
