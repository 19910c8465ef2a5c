package events

import "strconv"

// Event types of the escalation service: pages it asks the notify service to
// deliver, pages it held back, and changes to the paging configuration.
const (
	TypePageRequested       = "page.requested"
	TypePageSuppressed      = "page.suppressed"
	TypeEscalationExhausted = "escalation.exhausted"
	TypeServiceConfigured   = "service.configured"
	TypeServiceRemoved      = "service.removed"
	TypeConfigApplied       = "config.applied"
)

// Reasons a page was suppressed (PageSuppressed.Reason).
const (
	SuppressedMaintenance     = "maintenance"
	SuppressedNobodyOnCall    = "nobody on call"
	SuppressedUnknownUser     = "unknown user"
	SuppressedUnknownSchedule = "unknown schedule"
	SuppressedNoContactMethod = "no contact method"
)

// PageTarget is the policy target a page comes from: a user, a schedule or
// a Slack channel.
type PageTarget struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// PageContact is the contact method a page goes through.
type PageContact struct {
	Name    string `json:"name"`
	Type    string `json:"type"`
	Address string `json:"address"`
}

// PageRequested asks the notify service to page one person through one
// contact method, or to post to a Slack channel (Channel, no User). The
// IdempotencyKey names the page; delivering two pages with the same key
// pages once.
type PageRequested struct {
	IncidentID string `json:"incident_id"`
	Number     int64  `json:"number"`
	Title      string `json:"title"`
	Severity   string `json:"severity"`
	Service    string `json:"service"`
	// Level is the escalation level paged, counted from 1 across the
	// policy's repeats.
	Level  int        `json:"level"`
	Policy string     `json:"policy"`
	Target PageTarget `json:"target"`
	// User is the person paged (for a schedule target, whoever was on call).
	User          string       `json:"user,omitempty"`
	ContactMethod *PageContact `json:"contact_method,omitempty"`
	// Channel is the Slack channel of a slack_channel target.
	Channel string `json:"channel,omitempty"`
	// UserGroup is the Slack user group of a slack_usergroup target.
	UserGroup string `json:"user_group,omitempty"`
	// RuleDelayMinutes is the delay of the notification rule that sent
	// this page (0: at once).
	RuleDelayMinutes int    `json:"rule_delay_minutes"`
	IdempotencyKey   string `json:"idempotency_key"`
	// ActionItem is set on a page to the owner of an overdue post-mortem
	// action item (action_item.page_due), which has no escalation: Level
	// is 0 and Policy empty; Title, Severity and Service are the
	// incident's.
	ActionItem *PageActionItem `json:"action_item,omitempty"`
}

// PageActionItem is the overdue action item a page is about.
type PageActionItem struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	Owner string `json:"owner"`
	// Due is the due date (YYYY-MM-DD).
	Due string `json:"due"`
	// OverdueHours is how many whole hours past the end of its due day
	// (UTC) the item was when the page was asked for.
	OverdueHours int    `json:"overdue_hours"`
	TrackerURL   string `json:"tracker_url,omitempty"`
}

// Overdue says how overdue the item is: "3 days", "1 day", "5 hours".
func (a PageActionItem) Overdue() string {
	n, unit := a.OverdueHours, "hour"
	if n >= 24 {
		n, unit = n/24, "day"
	}
	if n != 1 {
		unit += "s"
	}
	return strconv.Itoa(n) + " " + unit
}

// PageSuppressed says a page was not sent, and why: the service is in a
// maintenance window (WindowID), nobody is on call on a schedule, or a
// target or contact method is missing.
type PageSuppressed struct {
	IncidentID string `json:"incident_id"`
	Number     int64  `json:"number"`
	Service    string `json:"service"`
	Reason     string `json:"reason"`
	WindowID   string `json:"window_id,omitempty"`
	Schedule   string `json:"schedule,omitempty"`
	User       string `json:"user,omitempty"`
	Level      int    `json:"level,omitempty"`
	Policy     string `json:"policy,omitempty"`
	// ActionItem is the id of the overdue action item whose owner was
	// not paged (action_item.page_due).
	ActionItem string `json:"action_item,omitempty"`
}

// EscalationExhausted says an incident's escalation policy ran through all
// its levels and repeats without an acknowledgement; paging stopped.
type EscalationExhausted struct {
	IncidentID string `json:"incident_id"`
	Number     int64  `json:"number"`
	Service    string `json:"service"`
	Policy     string `json:"policy"`
	// Level is the level that was asked for and does not exist.
	Level int `json:"level"`
	// Repeat is the policy's number of repeats.
	Repeat int `json:"repeat"`
}

// ServiceConfigured says a technical service's paging settings were created
// or changed; the incident service applies them.
type ServiceConfigured struct {
	Name             string            `json:"name"`
	Description      string            `json:"description,omitempty"`
	EscalationPolicy string            `json:"escalation_policy,omitempty"`
	AckTimeoutMs     int64             `json:"ack_timeout_ms"`
	SeverityMap      map[string]string `json:"severity_map,omitempty"`
	// AlertGrouping folds related alerts into one incident; nil: every
	// dedup key opens its own.
	AlertGrouping *AlertGrouping `json:"alert_grouping,omitempty"`
}

// ServiceRemoved says a technical service was removed from the paging
// configuration.
type ServiceRemoved struct {
	Name string `json:"name"`
}

// ConfigChange is one change a configuration apply made.
type ConfigChange struct {
	// Kind is what changed: service, user, schedule, policy,
	// maintenance_window.
	Kind string `json:"kind"`
	Name string `json:"name"`
	// Op is create, update or delete.
	Op string `json:"op"`
	// Fields names the fields an update changed.
	Fields []string `json:"fields,omitempty"`
}

// ConfigApplied says the paging configuration was replaced, with what
// changed.
type ConfigApplied struct {
	Changes []ConfigChange `json:"changes"`
}
