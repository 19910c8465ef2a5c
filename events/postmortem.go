package events

import "time"

// Event types of the post-mortem service: reviews created, action items
// past their due date, and status updates published to the status feed.
// (postmortem.published is in catalog.go: the incident service consumes it.)
const (
	TypePostmortemCreated     = "postmortem.created"
	TypeActionItemOverdue     = "action_item.overdue"
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
// least the configured age; escalation or notify may page its owner.
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
