package events

import "time"

// Event types of the post-mortem service: reviews created, action items
// past their due date, and status updates published to the status feed.
// (postmortem.published is in catalog.go: the incident service consumes it.)
const (
	TypePostmortemCreated     = "postmortem.created"
	TypeActionItemOverdue     = "action_item.overdue"
	TypeActionItemPageDue     = "action_item.page_due"
	TypeStatusUpdatePublished = "status_update.published"
)

// PostmortemCreated says a post-mortem document was started for an
// incident, from the template.
type PostmortemCreated struct {
	IncidentID   string `json:"incident_id"`
	Number       int64  `json:"number,omitempty"`
	PostmortemID string `json:"postmortem_id"`
	Title        string `json:"title"`
}

// ActionItemOverdue says an open action item is past its due date by at
// least the configured age (a report; its owner is paged by
// action_item.page_due, at an age of its own).
type ActionItemOverdue struct {
	ActionItemID string `json:"action_item_id"`
	IncidentID   string `json:"incident_id"`
	Number       int64  `json:"number,omitempty"`
	Title        string `json:"title"`
	Owner        string `json:"owner"`
	// Due is the due date (YYYY-MM-DD).
	Due        string `json:"due"`
	TrackerURL string `json:"tracker_url,omitempty"`
	// OverdueDays is how many whole days past Due the item was when this
	// was emitted.
	OverdueDays int `json:"overdue_days"`
}

// ActionItemPageDue says an open action item is past its due date by the
// configured paging age (the post-mortem service's page-overdue-after):
// the escalation service pages its owner, a configured user, through their
// notification rules (page.requested with action_item set), or reports
// page.suppressed when the owner is no user or has no contact method.
// Emitted once per item and due date.
type ActionItemPageDue struct {
	ActionItemOverdue
	// OverdueHours is how many whole hours past the end of its due day
	// (UTC) the item was when this was emitted.
	OverdueHours int `json:"overdue_hours"`
	// IncidentTitle, Service and Severity describe the incident the item
	// came out of, for the page.
	IncidentTitle string `json:"incident_title"`
	Service       string `json:"service"`
	Severity      string `json:"severity,omitempty"`
}

// StatusUpdatePublished says an approved status update was published: an
// external one is on the public status feed; notify may deliver either to
// the incident's subscribers.
type StatusUpdatePublished struct {
	UpdateID   string `json:"update_id"`
	IncidentID string `json:"incident_id"`
	Number     int64  `json:"number,omitempty"`
	// Service is the incident's service, when known; notify matches it
	// against subscribers' service filters.
	Service string `json:"service,omitempty"`
	// Audience is "internal" or "external".
	Audience    string    `json:"audience"`
	Status      string    `json:"status"`
	Title       string    `json:"title"`
	Body        string    `json:"body"`
	ApprovedBy  string    `json:"approved_by"`
	PublishedAt time.Time `json:"published_at"`
}
