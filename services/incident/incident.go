// Package incident owns incidents: it opens one incident per open (service,
// dedup key) from alerts, counts repeats, and decides every change to an
// incident's state. Other services ask for changes with commands; this one
// answers with events.
package incident

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/fault"
)

// Status is an incident's lifecycle state.
type Status string

// The lifecycle states (DESIGN.md, "Incident lifecycle").
const (
	StatusTriggered    Status = "triggered"
	StatusEscalated    Status = "escalated"
	StatusAcknowledged Status = "acknowledged"
	StatusContained    Status = "contained"
	StatusMitigated    Status = "mitigated"
	StatusResolved     Status = "resolved"
	StatusPostmortem   Status = "postmortem"
	StatusClosed       Status = "closed"
)

// Statuses lists every status in lifecycle order.
var Statuses = []Status{StatusTriggered, StatusEscalated, StatusAcknowledged, StatusContained,
	StatusMitigated, StatusResolved, StatusPostmortem, StatusClosed}

// OpenStatuses are the states of an incident that still needs people.
var OpenStatuses = []Status{StatusTriggered, StatusEscalated, StatusAcknowledged, StatusContained, StatusMitigated}

// Valid reports whether s is a known status.
func (s Status) Valid() bool { return slices.Contains(Statuses, s) }

// Open reports whether an incident in status s is still open: it takes
// alerts for its dedup key and can be resolved.
func (s Status) Open() bool { return slices.Contains(OpenStatuses, s) }

// Sentinel errors of the incident domain.
var (
	ErrNotFound          = fault.New(fault.NotFound, "incident_not_found", "incident not found")
	ErrIllegalTransition = fault.New(fault.Conflict, "illegal_transition", "illegal transition")
	ErrVersionConflict   = fault.New(fault.Conflict, "version_conflict", "version conflict")
	// ErrStaleVersion refuses a command whose expected_version is not the
	// incident's current version (unlike ErrVersionConflict, a race between
	// two writers that the store retries).
	ErrStaleVersion   = fault.New(fault.Conflict, "stale_version", "stale version")
	ErrConflict       = fault.New(fault.Conflict, "conflict", "conflict")
	ErrUnknownService = fault.New(fault.NotFound, "unknown_service", "unknown service")
	ErrInvalid        = fault.New(fault.Invalid, "invalid", "invalid")
	// ErrPostmortemRequired refuses closing a SEV1/SEV2 incident whose
	// post-mortem is not published.
	ErrPostmortemRequired = fault.New(fault.Conflict, "postmortem_required", "post-mortem required")
	// ErrHeartbeatExists refuses a second heartbeat monitor of one name.
	ErrHeartbeatExists = fault.New(fault.Conflict, "heartbeat_exists", "heartbeat exists")
	// ErrReopenWindow refuses reopening an incident resolved too long ago.
	ErrReopenWindow = fault.New(fault.Conflict, "reopen_window_passed", "reopen window passed")
)

// Incident is one incident.
type Incident struct {
	ID             string
	Number         int64
	Service        string
	DedupKey       string
	Title          string
	Severity       string // SEV1..SEV4
	AlertSeverity  string // critical|error|warning|info
	Status         Status
	AlertCount     int64
	Version        int64
	CreatedAt      time.Time
	UpdatedAt      time.Time
	LastAlertAt    time.Time
	AcknowledgedAt *time.Time
	AcknowledgedBy string
	ResolvedAt     *time.Time
	ResolvedBy     string

	// Summary is a longer description (declared incidents).
	Summary string
	// Origin says how the incident started: "alert" or "declared".
	Origin string
	// Assignee is the user who owns the incident now ("" for nobody).
	Assignee string
	// EscalationLevel is the escalation policy level reached (0 before the
	// first escalation).
	EscalationLevel int
	// SnoozedUntil, while in the future, holds off re-escalation of an
	// acknowledged incident.
	SnoozedUntil *time.Time
	// MergedInto is the id of the incident this one was merged into.
	MergedInto  string
	ContainedAt *time.Time
	MitigatedAt *time.Time
	ClosedAt    *time.Time
	// PostmortemPublishedAt is set when a postmortem.published event names
	// this incident; SEV1/SEV2 incidents cannot close before it.
	PostmortemPublishedAt *time.Time
	ReopenCount           int
	// GroupKey is the group key (events.GroupKeyOf) of the incident's first
	// alert under its service's alert grouping rule, "" when the service
	// had none or the alert lacked a field. It never changes.
	GroupKey string
}

// Key is the human incident number, INC-<number>.
func (i Incident) Key() string { return FormatNumber(i.Number) }

// FormatNumber renders an incident number as INC-<number>.
func FormatNumber(n int64) string { return "INC-" + strconv.FormatInt(n, 10) }

// serviceName is the shape of a technical service's name (a NATS subject
// token, at most 100 characters).
var serviceName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$`)

var numberRef = regexp.MustCompile(`^(?i:inc-)?([0-9]{1,18})$`)

// ParseRef reads "INC-42", "42" or an incident id.
func ParseRef(s string) (Ref, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Ref{}, fmt.Errorf("%w: empty incident reference", ErrInvalid)
	}
	if m := numberRef.FindStringSubmatch(s); m != nil {
		n, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil || n <= 0 {
			return Ref{}, fmt.Errorf("%w: incident number %q out of range", ErrInvalid, s)
		}
		return Ref{Number: n}, nil
	}
	if len(s) > 64 {
		return Ref{}, fmt.Errorf("%w: incident reference too long", ErrInvalid)
	}
	return Ref{ID: s}, nil
}

// String renders a reference for messages.
func (r Ref) String() string {
	if r.Number > 0 {
		return FormatNumber(r.Number)
	}
	return r.ID
}

// SeverityFromAlert maps an alert severity onto SEV1–SEV4.
func SeverityFromAlert(s string) string {
	switch s {
	case events.SeverityCritical:
		return "SEV1"
	case events.SeverityError:
		return "SEV2"
	case events.SeverityWarning:
		return "SEV3"
	default:
		return "SEV4"
	}
}

// Origins of an incident.
const (
	OriginAlert    = "alert"
	OriginDeclared = "declared"
)

// allowed maps each target status to the statuses it may be reached from.
var allowed = map[Status][]Status{
	StatusEscalated:    {StatusTriggered, StatusEscalated, StatusAcknowledged},
	StatusAcknowledged: {StatusTriggered, StatusEscalated},
	StatusContained:    {StatusAcknowledged},
	StatusMitigated:    {StatusAcknowledged, StatusContained},
	StatusResolved:     OpenStatuses,
	StatusPostmortem:   {StatusResolved},
	StatusClosed:       {StatusResolved, StatusPostmortem},
	StatusTriggered:    {StatusResolved}, // reopen
}

// transition checks that an incident may move from its status to to.
func transition(inc Incident, to Status) error {
	from := inc.Status
	if slices.Contains(allowed[to], from) {
		return nil
	}
	if from == to {
		return fault.Wrap(ErrIllegalTransition, "%s is already %s", inc.Key(), from)
	}
	return fault.Wrap(ErrIllegalTransition, "%s is %s and cannot become %s%s", inc.Key(), from, to, hint(from, to))
}

// hint says what would make a refused transition possible.
func hint(from, to Status) string {
	switch {
	case to == StatusContained && (from == StatusTriggered || from == StatusEscalated):
		return "; acknowledge it first"
	case to == StatusMitigated && (from == StatusTriggered || from == StatusEscalated):
		return "; acknowledge it first"
	case to == StatusClosed && from.Open():
		return "; resolve it first"
	case to == StatusTriggered && (from == StatusPostmortem || from == StatusClosed):
		return "; declare a new incident instead"
	}
	return ""
}

// NeedsPostmortem reports whether an incident of severity sev needs a
// published post-mortem before it can close.
func NeedsPostmortem(sev string) bool { return sev == "SEV1" || sev == "SEV2" }

// ValidSeverity reports whether s is SEV1..SEV4.
func ValidSeverity(s string) bool { return s == "SEV1" || s == "SEV2" || s == "SEV3" || s == "SEV4" }
