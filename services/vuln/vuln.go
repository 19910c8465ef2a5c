// Package vuln tracks security vulnerabilities from report to disclosure:
// records with a lifecycle (identified → … → closed), remediation deadlines
// from a policy (package policy) kept by durable SLA timers, intake from a
// public disclosure endpoint and from scanner reports (package scan),
// public advisories (security.txt, JSON, Atom, HTML) and customer notices
// approved by a holder of comms:approve.
//
// The service owns its tables and talks to the others only through the
// bus: every change writes its events to the outbox in the same
// transaction; a breached deadline or an actively exploited vulnerability
// opens an incident with an incident.declare command on the product's
// owning service, so the incident service's lifecycle and the escalation
// service's paging take over from there.
package vuln

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/firebreak-dev/firebreak/internal/fault"
	"github.com/firebreak-dev/firebreak/services/vuln/cvss"
	"github.com/firebreak-dev/firebreak/services/vuln/policy"
)

// Name is the service's name: the source of its events.
const Name = "vuln"

// Sentinel errors.
var (
	ErrNotFound          = fault.New(fault.NotFound, "not_found", "not found")
	ErrInvalid           = fault.New(fault.Invalid, "invalid", "invalid request")
	ErrConflict          = fault.New(fault.Conflict, "conflict", "changed concurrently")
	ErrIllegalTransition = fault.New(fault.Conflict, "illegal_transition", "illegal transition")
	ErrNotApproved       = fault.New(fault.Conflict, "not_approved", "not approved")
	// ErrSelfApproval refuses the approval of a notice by its author: a
	// customer notice needs a second person (four-eyes rule).
	ErrSelfApproval = fault.New(fault.Forbidden, "self_approval", "the author of a notice cannot approve it")
)

// Status is a vulnerability's place in its lifecycle.
type Status string

// The lifecycle: identified → acknowledged → triaged (severity assessed) →
// remediation_planned → fix_in_progress → verifying → released or
// mitigated → communicated → closed; rejected and duplicate end it early.
const (
	StatusIdentified         Status = "identified"
	StatusAcknowledged       Status = "acknowledged"
	StatusTriaged            Status = "triaged"
	StatusRemediationPlanned Status = "remediation_planned"
	StatusFixInProgress      Status = "fix_in_progress"
	StatusVerifying          Status = "verifying"
	StatusReleased           Status = "released"
	StatusMitigated          Status = "mitigated"
	StatusCommunicated       Status = "communicated"
	StatusClosed             Status = "closed"
	StatusRejected           Status = "rejected"
	StatusDuplicate          Status = "duplicate"
)

// transitions lists the statuses each status may move to.
var transitions = map[Status][]Status{
	StatusIdentified:         {StatusAcknowledged, StatusRejected, StatusDuplicate},
	StatusAcknowledged:       {StatusTriaged, StatusRejected, StatusDuplicate},
	StatusTriaged:            {StatusRemediationPlanned, StatusRejected, StatusDuplicate},
	StatusRemediationPlanned: {StatusFixInProgress, StatusMitigated},
	StatusFixInProgress:      {StatusVerifying, StatusMitigated},
	StatusVerifying:          {StatusReleased, StatusMitigated, StatusFixInProgress},
	StatusMitigated:          {StatusFixInProgress, StatusVerifying, StatusReleased, StatusCommunicated},
	StatusReleased:           {StatusCommunicated},
	StatusCommunicated:       {StatusClosed},
}

// Statuses lists every status in lifecycle order.
func Statuses() []Status {
	return []Status{StatusIdentified, StatusAcknowledged, StatusTriaged, StatusRemediationPlanned, StatusFixInProgress,
		StatusVerifying, StatusReleased, StatusMitigated, StatusCommunicated, StatusClosed, StatusRejected, StatusDuplicate}
}

// ParseStatus reads a status.
func ParseStatus(s string) (Status, bool) {
	st := Status(strings.ToLower(strings.TrimSpace(s)))
	return st, slices.Contains(Statuses(), st)
}

// CanMove reports whether from may move to to.
func CanMove(from, to Status) bool { return slices.Contains(transitions[from], to) }

// Next lists where a status may move.
func Next(s Status) []Status { return slices.Clone(transitions[s]) }

// ClockRuns reports whether the remediation clock runs in s: from
// identification until the fix is released (or the record ends).
// Mitigated counts too; the policy decides whether it pauses.
func ClockRuns(s Status) bool {
	switch s {
	case StatusReleased, StatusCommunicated, StatusClosed, StatusRejected, StatusDuplicate:
		return false
	}
	return true
}

// Source says how a vulnerability was found.
type Source string

// The sources.
const (
	SourceDisclosure Source = "disclosure"
	SourceScanner    Source = "scanner"
	SourceInternal   Source = "internal"
	SourceCustomer   Source = "customer"
	SourceBugBounty  Source = "bug_bounty"
)

// ValidSource reports whether s is a known source.
func ValidSource(s Source) bool {
	return slices.Contains([]Source{SourceDisclosure, SourceScanner, SourceInternal, SourceCustomer, SourceBugBounty}, s)
}

// Product is something the vendor ships: it carries its hosting type (the
// policy's timeframes differ) and the technical service whose escalation
// policy is paged when a deadline is breached.
type Product struct {
	Name    string         `json:"name"`
	Hosting policy.Hosting `json:"hosting"`
	Service string         `json:"service"`
}

// Reporter is who reported a vulnerability. It is private: no public
// endpoint shows it, and the only event that carries the address is
// vuln.reporter_update_requested, for notify to write to the reporter.
type Reporter struct {
	Name    string `json:"name,omitempty"`
	Contact string `json:"contact,omitempty"`
}

// Vuln is a vulnerability record.
type Vuln struct {
	ID     string `json:"id"`
	Number int64  `json:"number"`
	Title  string `json:"title"`
	// Description is private until a notice publishes what to say.
	Description string `json:"description,omitempty"`
	Product     string `json:"product"`
	Component   string `json:"component,omitempty"`
	// AffectedVersions is free text ("< 4.2.1", "4.0–4.2").
	AffectedVersions string `json:"affected_versions,omitempty"`
	FixedVersion     string `json:"fixed_version,omitempty"`
	// AdvisoryID is the de-duplication key of scanner findings with
	// Component (the scanner's advisory id); empty otherwise.
	AdvisoryID string `json:"advisory_id,omitempty"`
	// Identifiers are CVE, GHSA and internal ids.
	Identifiers []string       `json:"identifiers,omitempty"`
	Vector      string         `json:"cvss_vector,omitempty"`
	Score       float64        `json:"cvss_score"`
	Severity    cvss.Severity  `json:"severity"`
	Hosting     policy.Hosting `json:"hosting"`
	// Service is the owning technical service (from the product).
	Service  string   `json:"service"`
	Source   Source   `json:"source"`
	Reporter Reporter `json:"reporter"`
	Assignee string   `json:"assignee,omitempty"`
	Status   Status   `json:"status"`
	// Public allows publication; Embargoed holds it back until the
	// embargo is lifted. Only Public && !Embargoed records reach a public
	// endpoint, and only through an approved notice.
	Public    bool `json:"public"`
	Embargoed bool `json:"embargoed"`
	Exploited bool `json:"exploited,omitempty"`
	// Incident is the linked incident's id.
	Incident    string `json:"incident,omitempty"`
	DuplicateOf string `json:"duplicate_of,omitempty"`
	Reason      string `json:"reason,omitempty"`
	// Fingerprint is a hash of what a scanner said; a re-import with the
	// same fingerprint changes nothing.
	Fingerprint string `json:"fingerprint,omitempty"`
	// ReportedAt starts the remediation clock (with the policy's triage
	// period for bug-bounty findings).
	ReportedAt time.Time `json:"reported_at"`
	// Mitigated are the spans spent mitigated (they pause the clock when
	// the policy says so).
	Mitigated []policy.Interval `json:"mitigated,omitempty"`
	// SLANotified is the highest clock fraction already announced
	// (0.5, 0.8, 1 for the breach).
	SLANotified float64 `json:"sla_notified,omitempty"`
	// RemediatedAt is when the fix was released (or the record ended);
	// the clock stops there. Zero while open.
	RemediatedAt time.Time `json:"remediated_at"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
	Version      int64     `json:"version"`
}

// Key is the human key, VULN-<number>.
func (v Vuln) Key() string { return "VULN-" + strconv.FormatInt(v.Number, 10) }

// Disclosable reports whether the record may appear on public endpoints.
func (v Vuln) Disclosable() bool { return v.Public && !v.Embargoed }

// Open reports whether the remediation clock runs.
func (v Vuln) Open() bool { return ClockRuns(v.Status) }

// ParseRef reads "VULN-7", "7" or an id; number is 0 for an id.
func ParseRef(ref string) (id string, number int64) {
	ref = strings.TrimSpace(ref)
	s := strings.TrimPrefix(strings.ToUpper(ref), "VULN-")
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 {
		return "", n
	}
	return ref, 0
}

// clockInput is what the policy computes v's clock from.
func (v Vuln) clockInput() policy.Input {
	src := policy.Reported
	if v.Source == SourceBugBounty {
		src = policy.BugBounty
	}
	return policy.Input{Hosting: v.Hosting, Severity: v.Severity, Source: src, ReportedAt: v.ReportedAt, Mitigated: v.Mitigated}
}

// Clock returns v's remediation clock; ok is false when it has none
// (severity None, not yet assessed).
func (v Vuln) Clock(p policy.Policy) (policy.Clock, bool, error) {
	if v.Severity == "" || v.Severity == cvss.None {
		return policy.Clock{}, false, nil
	}
	c, err := p.Clock(v.clockInput())
	if err != nil {
		return policy.Clock{}, false, fmt.Errorf("clock of %s: %w", v.Key(), err)
	}
	return c, true, nil
}

// SLA is a clock read for display.
type SLA struct {
	State     string    `json:"state"` // ok, warning, breached, paused, met, none
	DueAt     time.Time `json:"due_at"`
	Remaining string    `json:"remaining"`
	// RemainingSeconds is negative once breached.
	RemainingSeconds int64   `json:"remaining_seconds"`
	Fraction         float64 `json:"fraction"`
}

// SLA states.
const (
	SLAOK       = "ok"
	SLAWarning  = "warning"
	SLABreached = "breached"
	SLAPaused   = "paused"
	SLAMet      = "met"    // remediated within the time to fix
	SLAMissed   = "missed" // remediated after it
	SLANone     = "none"   // no deadline (severity None or not assessed)
)

// SLAAt reads v's clock at now (at RemediatedAt once remediated).
func (v Vuln) SLAAt(p policy.Policy, now time.Time) SLA {
	c, ok, err := v.Clock(p)
	if !ok || err != nil {
		return SLA{State: SLANone}
	}
	at := now
	if !v.RemediatedAt.IsZero() {
		at = v.RemediatedAt
	}
	st := c.At(at)
	s := SLA{DueAt: st.DueAt, RemainingSeconds: int64(st.Remaining / time.Second), Fraction: st.Fraction,
		Remaining: st.Remaining.Round(time.Minute).String()}
	switch {
	case !v.RemediatedAt.IsZero() && st.Breached:
		s.State = SLAMissed
	case !v.RemediatedAt.IsZero():
		s.State = SLAMet
	case st.Breached:
		s.State = SLABreached
	case st.Paused:
		s.State = SLAPaused
	case st.Warning > 0:
		s.State = SLAWarning
	default:
		s.State = SLAOK
	}
	return s
}

// IncidentSeverity maps a CVSS severity to an incident severity.
func IncidentSeverity(s cvss.Severity) string {
	switch s {
	case cvss.Critical:
		return "SEV1"
	case cvss.High:
		return "SEV2"
	case cvss.Medium:
		return "SEV3"
	}
	return "SEV4"
}

// HistoryKind names an entry of a vulnerability's history.
type HistoryKind string

// The history kinds.
const (
	HistoryCreated    HistoryKind = "created"
	HistoryUpdated    HistoryKind = "updated"
	HistoryTransition HistoryKind = "transition"
	HistorySeverity   HistoryKind = "severity"
	HistoryWarning    HistoryKind = "sla_warning"
	HistoryBreach     HistoryKind = "sla_breached"
	HistoryExploited  HistoryKind = "exploited"
	HistoryNotice     HistoryKind = "notice"
)

// History is one entry of a vulnerability's history.
type History struct {
	VulnID   string        `json:"vuln_id"`
	Kind     HistoryKind   `json:"kind"`
	At       time.Time     `json:"at"`
	Severity cvss.Severity `json:"severity"`
	Actor    string        `json:"actor"`
	From     string        `json:"from,omitempty"`
	To       string        `json:"to,omitempty"`
	Reason   string        `json:"reason,omitempty"`
	EventID  string        `json:"event_id,omitempty"`
}

// NoticeStatus is where a customer notice stands.
type NoticeStatus string

// Notice statuses.
const (
	NoticeStatusDraft NoticeStatus = "draft"
	NoticePublished   NoticeStatus = "published"
)

// Notice is a customer notice about a vulnerability: drafted from a
// template, then approved (which publishes it) by a holder of
// comms:approve.
type Notice struct {
	ID     string       `json:"id"`
	VulnID string       `json:"vuln_id"`
	Status NoticeStatus `json:"status"`
	Title  string       `json:"title"`
	// The template's sections.
	WhatHappened string    `json:"what_happened"`
	Impact       string    `json:"impact"`
	Action       string    `json:"action"`
	Timeline     string    `json:"timeline"`
	DraftedBy    string    `json:"drafted_by"`
	ApprovedBy   string    `json:"approved_by,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
	PublishedAt  time.Time `json:"published_at"`
	Version      int64     `json:"version"`
}

// Body renders the notice as plain text.
func (n Notice) Body() string {
	var b strings.Builder
	for _, s := range [][2]string{{"What happened", n.WhatHappened}, {"Impact", n.Impact}, {"What you should do", n.Action}, {"Timeline", n.Timeline}} {
		if s[1] == "" {
			continue
		}
		fmt.Fprintf(&b, "%s\n%s\n\n", s[0], s[1])
	}
	return strings.TrimSpace(b.String())
}

// Advisory is a published notice with the public fields of its
// vulnerability: what every public endpoint shows, and nothing else.
type Advisory struct {
	ID               string        `json:"id"`
	Title            string        `json:"title"`
	Product          string        `json:"product"`
	Component        string        `json:"component,omitempty"`
	Identifiers      []string      `json:"identifiers,omitempty"`
	Severity         cvss.Severity `json:"severity"`
	Score            float64       `json:"cvss_score,omitempty"`
	Vector           string        `json:"cvss_vector,omitempty"`
	AffectedVersions string        `json:"affected_versions,omitempty"`
	FixedVersion     string        `json:"fixed_version,omitempty"`
	WhatHappened     string        `json:"what_happened,omitempty"`
	Impact           string        `json:"impact,omitempty"`
	Action           string        `json:"action,omitempty"`
	Timeline         string        `json:"timeline,omitempty"`
	Published        time.Time     `json:"published"`
}

// AdvisoryOf builds the public view of a published notice. It copies
// fields one by one so that a new private field of Vuln never leaks.
func AdvisoryOf(n Notice, v Vuln) Advisory {
	return Advisory{ID: n.ID, Title: n.Title, Product: v.Product, Component: v.Component, Identifiers: v.Identifiers,
		Severity: v.Severity, Score: v.Score, Vector: v.Vector, AffectedVersions: v.AffectedVersions, FixedVersion: v.FixedVersion,
		WhatHappened: n.WhatHappened, Impact: n.Impact, Action: n.Action, Timeline: n.Timeline, Published: n.PublishedAt}
}
