// Package escalation decides who is paged, when, and how: it owns the
// configuration of paging — technical services' settings, users with their
// contact methods and notification rules, on-call schedules, escalation
// policies and maintenance windows — and runs an escalation for every
// incident, paging level after level until someone acknowledges.
//
// It learns about incidents only from incident events, asks the incident
// service to escalate with incident.escalate commands, and announces each page
// as a page.requested event for the notify service to deliver. Every timer
// (the next level, a delayed notification rule) is a durable row
// (internal/timer), so paging survives restarts and fires once with several
// replicas.
package escalation

import (
	"time"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/fault"
	"github.com/firebreak-dev/firebreak/services/escalation/schedule"
)

// Name is the service's name: the source of its events and the prefix of its
// durable consumers.
const Name = "escalation"

// Config is the whole paging configuration, as `firebreak apply -f` sets it
// and `firebreak export` writes it. Names are the keys that references use.
type Config struct {
	Services           []ServiceConfig     `json:"services,omitempty"`
	Users              []User              `json:"users,omitempty"`
	Schedules          []schedule.Schedule `json:"schedules,omitempty"`
	Policies           []Policy            `json:"policies,omitempty"`
	MaintenanceWindows []MaintenanceWindow `json:"maintenance_windows,omitempty"`
}

// ServiceConfig is a technical service's paging settings. The incident
// service learns them from service.configured events.
type ServiceConfig struct {
	// Name matches the service name alerts carry.
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// EscalationPolicy names the Policy that pages for its incidents; ""
	// pages nobody.
	EscalationPolicy string `json:"escalation_policy,omitempty"`
	// AckTimeout re-escalates an acknowledged incident not resolved in time
	// (0: never).
	AckTimeout time.Duration `json:"ack_timeout,omitempty"`
	// SeverityMap overrides the alert severity → SEV mapping, e.g.
	// {"warning": "SEV2"}.
	SeverityMap map[string]string `json:"severity_map,omitempty"`
	// AlertGrouping folds related alerts into one incident; nil: each
	// dedup key opens its own incident.
	AlertGrouping *AlertGrouping `json:"alert_grouping,omitempty"`
}

// AlertGrouping is a service's alert grouping rule: a trigger whose dedup
// key has no open incident joins the service's open incident whose first
// alert had equal values of every field in By (events.AlertField), if that
// incident opened at most Window ago (0: while it is open). Alerts lacking
// any of the fields open their own incident.
type AlertGrouping struct {
	By     []string      `json:"by"`
	Window time.Duration `json:"window,omitempty"`
}

// MaxGroupingWindow is the longest alert grouping window.
const MaxGroupingWindow = 7 * 24 * time.Hour

// Event returns the rule as service.configured carries it (nil for nil).
func (g *AlertGrouping) Event() *events.AlertGrouping {
	if g == nil {
		return nil
	}
	return &events.AlertGrouping{By: append([]string(nil), g.By...), WindowMs: g.Window.Milliseconds()}
}

// User is a person who can be paged.
type User struct {
	// ID is the user's handle ("alice"), the id schedules and policies use.
	ID       string `json:"id"`
	Name     string `json:"name,omitempty"`
	Email    string `json:"email,omitempty"`
	TimeZone string `json:"time_zone,omitempty"`
	// ContactMethods are the ways to reach the user, by name.
	ContactMethods []ContactMethod `json:"contact_methods,omitempty"`
	// NotificationRules say which contact method to use how long after the
	// user is paged ("Slack at once, email after 5 minutes").
	NotificationRules []NotificationRule `json:"notification_rules,omitempty"`
}

// Contact method types.
const (
	ContactSlack   = "slack"
	ContactEmail   = "email"
	ContactWebhook = "webhook"
	ContactTeams   = "teams"
)

// ContactMethod is one way to reach a user.
type ContactMethod struct {
	// Name is unique per user ("work-slack").
	Name string `json:"name"`
	// Type is slack, email, webhook or teams.
	Type string `json:"type"`
	// Address is the Slack user id or email, the email address, or the URL.
	Address string `json:"address"`
}

// NotificationRule sends a page through a contact method after a delay.
type NotificationRule struct {
	// ContactMethod names one of the user's contact methods.
	ContactMethod string `json:"contact_method"`
	// DelayMinutes after the page (0: at once).
	DelayMinutes int `json:"delay_minutes"`
}

// Policy is an escalation policy: levels paged in order, each after the
// previous level's delay passed without an acknowledgement; the whole list
// runs Repeat more times before paging stops.
type Policy struct {
	Name        string  `json:"name"`
	Description string  `json:"description,omitempty"`
	Repeat      int     `json:"repeat,omitempty"`
	Levels      []Level `json:"levels"`
}

// Level is one step of a policy.
type Level struct {
	// DelayMinutes is how long this level has to acknowledge before the
	// next level is paged.
	DelayMinutes int      `json:"delay_minutes"`
	Targets      []Target `json:"targets"`
}

// Target types.
const (
	TargetUser         = "user"
	TargetSchedule     = "schedule"
	TargetSlackChannel = "slack_channel"
	// TargetSlackUserGroup pages a Slack user group (@oncall-web, or its
	// id S0614TZR7) in the incident's channel.
	TargetSlackUserGroup = "slack_usergroup"
)

// Target is who a level pages: a user, whoever is on call on a schedule, a
// Slack channel or a Slack user group.
type Target struct {
	Type string `json:"type"`
	// ID is the user id, schedule name, Slack channel or Slack user group.
	ID string `json:"id"`
}

// MaintenanceWindow silences paging for a service: alerts are still
// recorded and incidents opened, but nobody is paged.
type MaintenanceWindow struct {
	// ID names the window (unique).
	ID      string    `json:"id"`
	Service string    `json:"service"`
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	Reason  string    `json:"reason,omitempty"`
}

// Active reports whether the window covers t.
func (m MaintenanceWindow) Active(t time.Time) bool { return !t.Before(m.Start) && t.Before(m.End) }

// Sentinel errors of the escalation domain.
var (
	ErrNotFound = fault.New(fault.NotFound, "not_found", "not found")
	ErrInvalid  = fault.New(fault.Invalid, "invalid_config", "invalid configuration")
	ErrConflict = fault.New(fault.Conflict, "conflict", "conflict")
)

// EncodeGrouping is how stores keep a rule: the JSON of its event form, ""
// for none.
func EncodeGrouping(g *AlertGrouping) string { return events.EncodeAlertGrouping(g.Event()) }

// DecodeGrouping reads what EncodeGrouping wrote.
func DecodeGrouping(s string) (*AlertGrouping, error) {
	e, err := events.DecodeAlertGrouping(s)
	if e == nil || err != nil {
		return nil, err
	}
	return &AlertGrouping{By: e.By, Window: time.Duration(e.WindowMs) * time.Millisecond}, nil
}
