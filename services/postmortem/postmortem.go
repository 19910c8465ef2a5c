// Package postmortem is the post-mortem service: it projects every event
// about an incident into an ordered, attributed timeline, keeps post-mortem
// documents (with revisions and a draft → in_review → published workflow),
// their action items and the incident's status updates, and computes
// response metrics (MTTA, MTTR, time to contain and to mitigate, on-call
// load). It learns about incidents only from events: it never reads the
// incident service's tables.
package postmortem

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/fault"
)

// Name is the service name.
const Name = "postmortem"

// Sentinel errors.
var (
	ErrNotFound        = fault.New(fault.NotFound, "not_found", "not found")
	ErrUnknownIncident = fault.New(fault.NotFound, "unknown_incident", "unknown incident")
	ErrStaleRevision   = fault.New(fault.Conflict, "stale_revision", "the post-mortem changed since that revision")
	ErrExists          = fault.New(fault.Conflict, "postmortem_exists", "the incident already has a post-mortem")
	ErrIllegalState    = fault.New(fault.Conflict, "illegal_state", "illegal state change")
	ErrInvalid         = fault.New(fault.Invalid, "invalid", "invalid input")
	// ErrConflict is a concurrent write the store detected; InTx retries.
	ErrConflict = fault.New(fault.Conflict, "conflict", "concurrent change")
)

// Incident is the service's projection of an incident, from incident.*
// events.
type Incident struct {
	ID          string
	Number      int64
	Title       string
	Service     string
	Severity    string
	DedupKey    string
	Status      string
	TriggeredAt time.Time
	// AcknowledgedAt, ContainedAt and MitigatedAt are the first such
	// moments; ResolvedAt is the last resolution (a reopen clears it).
	AcknowledgedAt *time.Time
	ContainedAt    *time.Time
	MitigatedAt    *time.Time
	ResolvedAt     *time.Time
	AlertCount     int64
}

// Key is the human reference, INC-<number>.
func (i Incident) Key() string { return "INC-" + strconv.FormatInt(i.Number, 10) }

// Entry is one line of an incident's timeline: one event.
type Entry struct {
	EventID    string          `json:"event_id"`
	IncidentID string          `json:"incident_id"`
	At         time.Time       `json:"time"`
	Type       string          `json:"type"`
	Actor      events.Actor    `json:"actor"`
	Summary    string          `json:"summary"`
	Details    json.RawMessage `json:"details,omitempty"`
	// AlertService and AlertKey link an alert whose incident is not known
	// yet (IncidentID "") to the incident its (service, dedup key) opens.
	AlertService string `json:"-"`
	AlertKey     string `json:"-"`
}

// Page is one page.requested: who was paged, when.
type Page struct {
	EventID    string
	IncidentID string
	User       string
	Service    string
	Severity   string
	At         time.Time
}

// State is a post-mortem's workflow state.
type State string

// The post-mortem states.
const (
	StateDraft     State = "draft"
	StateInReview  State = "in_review"
	StatePublished State = "published"
)

// next lists the legal state changes. A document in review may go back to
// draft; a published one is final.
var next = map[State][]State{
	StateDraft:    {StateInReview},
	StateInReview: {StateDraft, StatePublished},
}

// Sections are the template's prose sections (Markdown).
type Sections struct {
	Summary             string `json:"summary"`
	Impact              string `json:"impact"`
	Detection           string `json:"detection"`
	Response            string `json:"response"`
	RootCause           string `json:"root_cause"`
	ContributingFactors string `json:"contributing_factors"`
	WentWell            string `json:"went_well"`
	WentPoorly          string `json:"went_poorly"`
	GotLucky            string `json:"got_lucky"`
}

// Postmortem is a post-mortem document.
type Postmortem struct {
	ID          string     `json:"id"`
	IncidentID  string     `json:"incident_id"`
	State       State      `json:"state"`
	Revision    int64      `json:"revision"`
	Title       string     `json:"title"`
	Sections    Sections   `json:"sections"`
	CreatedBy   string     `json:"created_by"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	PublishedAt *time.Time `json:"published_at,omitempty"`
}

// Revision is one saved version of a post-mortem.
type Revision struct {
	PostmortemID string    `json:"postmortem_id"`
	Revision     int64     `json:"revision"`
	State        State     `json:"state"`
	Title        string    `json:"title"`
	Sections     Sections  `json:"sections"`
	Author       string    `json:"author"`
	At           time.Time `json:"at"`
}

// Action item statuses.
const (
	ItemOpen   = "open"
	ItemDone   = "done"
	ItemWontDo = "wont_do"
)

// ActionItem is a follow-up from a post-mortem.
type ActionItem struct {
	ID         string `json:"id"`
	IncidentID string `json:"incident_id"`
	Title      string `json:"title"`
	Owner      string `json:"owner"`
	// Due is YYYY-MM-DD, "" for none.
	Due        string    `json:"due"`
	Status     string    `json:"status"`
	TrackerURL string    `json:"tracker_url"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
	// OverdueAt is when action_item.overdue was emitted.
	OverdueAt *time.Time `json:"overdue_at,omitempty"`
	// PagedAt is when its owner was paged (action_item.page_due).
	PagedAt *time.Time `json:"paged_at,omitempty"`
}

// ActionItemFilter selects action items; zero fields match all.
type ActionItemFilter struct {
	IncidentID string
	Status     string
	// DueBefore (YYYY-MM-DD) keeps items due strictly before it.
	DueBefore string
}

// Status update audiences, states and statuses.
const (
	AudienceInternal = "internal"
	AudienceExternal = "external"

	UpdateDraft     = "draft"
	UpdateApproved  = "approved"
	UpdatePublished = "published"
)

// updateStatuses are the customer-facing statuses of a status update, as
// status pages name them.
var updateStatuses = []string{"investigating", "identified", "monitoring", "resolved"}

// StatusUpdate is an internal or external update on an incident.
type StatusUpdate struct {
	ID          string     `json:"id"`
	IncidentID  string     `json:"incident_id"`
	Audience    string     `json:"audience"`
	Status      string     `json:"status"`
	Title       string     `json:"title"`
	Body        string     `json:"body"`
	State       string     `json:"state"`
	DraftedBy   string     `json:"drafted_by"`
	ApprovedBy  string     `json:"approved_by"`
	CreatedAt   time.Time  `json:"created_at"`
	ApprovedAt  *time.Time `json:"approved_at,omitempty"`
	PublishedAt *time.Time `json:"published_at,omitempty"`
}
