// Package incident owns incidents: it opens one incident per open (service,
// dedup key) from alerts, counts repeats, and decides every change to an
// incident's state. Other services ask for changes with commands; this one
// answers with events.
package incident

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/fault"
)

// Status is an incident's lifecycle state.
type Status string

// The states this service knows so far.
const (
	StatusTriggered    Status = "triggered"
	StatusAcknowledged Status = "acknowledged"
	StatusResolved     Status = "resolved"
)

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	switch s {
	case StatusTriggered, StatusAcknowledged, StatusResolved:
		return true
	}
	return false
}

// Open reports whether an incident in status s is still open.
func (s Status) Open() bool { return s != StatusResolved }

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
}

// Key is the human incident number, INC-<number>.
func (i Incident) Key() string { return FormatNumber(i.Number) }

// FormatNumber renders an incident number as INC-<number>.
func FormatNumber(n int64) string { return "INC-" + strconv.FormatInt(n, 10) }

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

// transition checks that an incident may move from its status to to.
func transition(inc Incident, to Status) error {
	from := inc.Status
	ok := false
	switch to {
	case StatusAcknowledged:
		ok = from == StatusTriggered
	case StatusResolved:
		ok = from.Open()
	}
	if !ok {
		return fmt.Errorf("%w: %s is %s and cannot become %s", ErrIllegalTransition, inc.Key(), from, to)
	}
	return nil
}
