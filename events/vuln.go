package events

import "time"

// Vulnerability event types, emitted by the vuln service. Their subject is
// the vulnerability's id.
const (
	// TypeVulnCreated: a vulnerability was recorded (by hand, from a
	// disclosure or by a scanner import).
	TypeVulnCreated = "vuln.created"
	// TypeVulnUpdated: a re-import or an edit changed a vulnerability's
	// fields (not its status).
	TypeVulnUpdated = "vuln.updated"
	// TypeVulnTransitioned: a vulnerability moved along its lifecycle.
	TypeVulnTransitioned = "vuln.transitioned"
	// TypeVulnSeverityChanged: a rescoring changed the severity and so the
	// remediation deadline.
	TypeVulnSeverityChanged = "vuln.severity_changed"
	// TypeVulnSLAWarning: a remediation clock crossed a warning fraction.
	TypeVulnSLAWarning = "vuln.sla_warning"
	// TypeVulnSLABreached: a remediation clock ran out.
	TypeVulnSLABreached = "vuln.sla_breached"
	// TypeVulnExploited: a vulnerability was marked actively exploited.
	TypeVulnExploited = "vuln.exploited"
	// TypeVulnNoticeDrafted: a customer notice was drafted.
	TypeVulnNoticeDrafted = "vuln.notice_drafted"
	// TypeVulnNoticePublished: a holder of comms:approve approved a notice;
	// it is on the advisory feed and notify sends it to subscribers.
	TypeVulnNoticePublished = "vuln.notice_published"
	// TypeVulnReporterUpdateRequested: a vulnerability reported through
	// the public disclosure endpoint with a reporter address reached a
	// status the reporter is told about; notify emails the reporter.
	TypeVulnReporterUpdateRequested = "vuln.reporter_update_requested"
)

// VulnRef identifies a vulnerability in event data.
type VulnRef struct {
	VulnID string `json:"vuln_id"`
	// Number is the human key: VULN-<number>.
	Number int64 `json:"number"`
	// Version is the record's version after the change.
	Version int64 `json:"version"`
}

// VulnRecorded is the data of vuln.created and vuln.updated: the fields of
// the record that are not private (never the reporter's contact).
type VulnRecorded struct {
	VulnRef
	Title       string     `json:"title"`
	Product     string     `json:"product"`
	Component   string     `json:"component,omitempty"`
	AdvisoryID  string     `json:"advisory_id,omitempty"`
	Identifiers []string   `json:"identifiers,omitempty"`
	Source      string     `json:"source"`
	Status      string     `json:"status"`
	Severity    string     `json:"severity"`
	Score       float64    `json:"score,omitempty"`
	Vector      string     `json:"cvss_vector,omitempty"`
	DueAt       *time.Time `json:"due_at,omitempty"`
	// Changed names the fields an update changed (vuln.updated).
	Changed []string `json:"changed,omitempty"`
}

// VulnTransitioned is the data of vuln.transitioned.
type VulnTransitioned struct {
	VulnRef
	From   string `json:"from"`
	To     string `json:"to"`
	Reason string `json:"reason,omitempty"`
	// DuplicateOf is the vulnerability this one duplicates (to duplicate).
	DuplicateOf string `json:"duplicate_of,omitempty"`
}

// VulnSeverityChanged is the data of vuln.severity_changed: the deadline
// is recomputed and Reason says why and how.
type VulnSeverityChanged struct {
	VulnRef
	From      string     `json:"from"`
	To        string     `json:"to"`
	Score     float64    `json:"score,omitempty"`
	Vector    string     `json:"cvss_vector,omitempty"`
	DueBefore *time.Time `json:"due_before,omitempty"`
	DueAt     *time.Time `json:"due_at,omitempty"`
	Reason    string     `json:"reason"`
}

// VulnSLA is the data of vuln.sla_warning and vuln.sla_breached.
type VulnSLA struct {
	VulnRef
	Title    string    `json:"title"`
	Product  string    `json:"product"`
	Severity string    `json:"severity"`
	DueAt    time.Time `json:"due_at"`
	// Fraction is the share of the time to fix used (0.5, 0.8, 1).
	Fraction float64 `json:"fraction"`
	// RemainingSeconds is negative once breached.
	RemainingSeconds int64 `json:"remaining_seconds"`
	// Incident is the id of the incident the breach declared (breached).
	Incident string `json:"incident,omitempty"`
	// Service is the owning technical service paged (breached).
	Service string `json:"service,omitempty"`
}

// VulnExploited is the data of vuln.exploited.
type VulnExploited struct {
	VulnRef
	Incident string `json:"incident"`
	// Declared is false when the vulnerability was already linked to an
	// incident, which is then reused.
	Declared bool   `json:"declared"`
	Severity string `json:"severity"`
	Note     string `json:"note,omitempty"`
}

// VulnNotice is the data of vuln.notice_drafted and vuln.notice_published:
// a customer notice (vuln.notice_published is what notify sends to
// subscribers).
type VulnNotice struct {
	NoticeID   string     `json:"notice_id"`
	VulnID     string     `json:"vuln_id"`
	Title      string     `json:"title"`
	Body       string     `json:"body"`
	URL        string     `json:"url,omitempty"`
	ApprovedBy string     `json:"approved_by,omitempty"`
	Published  *time.Time `json:"published_at,omitempty"`
	// Product and Service are the vulnerability's, when known; notify
	// matches them against subscribers' service filters.
	Product string `json:"product,omitempty"`
	Service string `json:"service,omitempty"`
}

// VulnReporterUpdate is the data of vuln.reporter_update_requested: what
// the person who disclosed a vulnerability is told when it changes status.
// It carries the reporter's private address for notify alone and nothing
// the reporter did not send (no embargoed details, no internal notes).
type VulnReporterUpdate struct {
	// TrackingID is the id the disclosure receipt gave the reporter. The
	// title is left out on purpose: triage may have edited it.
	TrackingID string `json:"tracking_id"`
	// Status is the new status (acknowledged, triaged, released,
	// mitigated, communicated, closed, rejected or duplicate).
	Status        string    `json:"status"`
	ReporterName  string    `json:"reporter_name,omitempty"`
	ReporterEmail string    `json:"reporter_email"`
	ChangedAt     time.Time `json:"changed_at"`
}

var exampleVulnRef = VulnRef{VulnID: "0195f3a2-7c4e-7b3a-9d2e-6f1a2b3c4d60", Number: 7, Version: 3}

// VulnCatalog lists the vuln service's event types; Catalog includes it.
func VulnCatalog() []Spec {
	due := exampleTime.Add(6 * 7 * 24 * time.Hour)
	due2 := exampleTime.Add(4 * 7 * 24 * time.Hour)
	return []Spec{
		{TypeVulnCreated, KindEvent, 1, func() any {
			return VulnRecorded{VulnRef: VulnRef{VulnID: exampleVulnRef.VulnID, Number: 7, Version: 1}, Title: "golang.org/x/net: HTTP/2 rapid reset",
				Product: "web", Component: "golang.org/x/net", AdvisoryID: "GHSA-4374-p667-p6c8", Identifiers: []string{"CVE-2023-44487", "GHSA-4374-p667-p6c8"},
				Source: "scanner", Status: "identified", Severity: "High", Score: 7.5, Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", DueAt: &due}
		}},
		{TypeVulnUpdated, KindEvent, 1, func() any {
			return VulnRecorded{VulnRef: exampleVulnRef, Title: "golang.org/x/net: HTTP/2 rapid reset", Product: "web", Component: "golang.org/x/net",
				AdvisoryID: "GHSA-4374-p667-p6c8", Source: "scanner", Status: "triaged", Severity: "High", Score: 7.5, DueAt: &due, Changed: []string{"fixed_version"}}
		}},
		{TypeVulnTransitioned, KindEvent, 1, func() any {
			return VulnTransitioned{VulnRef: exampleVulnRef, From: "acknowledged", To: "triaged", Reason: "reproduced on 4.2"}
		}},
		{TypeVulnSeverityChanged, KindEvent, 1, func() any {
			return VulnSeverityChanged{VulnRef: exampleVulnRef, From: "High", To: "Critical", Score: 9.8, Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
				DueBefore: &due, DueAt: &due2, Reason: "severity High → Critical: time to fix 6 weeks → 4 weeks, due 2027-01-09 → 2026-12-26; exploit needs no login"}
		}},
		{TypeVulnSLAWarning, KindEvent, 1, func() any {
			return VulnSLA{VulnRef: exampleVulnRef, Title: "golang.org/x/net: HTTP/2 rapid reset", Product: "web", Severity: "High", DueAt: due, Fraction: 0.5, RemainingSeconds: 1814400}
		}},
		{TypeVulnSLABreached, KindEvent, 1, func() any {
			return VulnSLA{VulnRef: exampleVulnRef, Title: "golang.org/x/net: HTTP/2 rapid reset", Product: "web", Severity: "High", DueAt: due, Fraction: 1,
				Incident: "0195f3a2-7c4e-7b3a-9d2e-000000000099", Service: "checkout"}
		}},
		{TypeVulnExploited, KindEvent, 1, func() any {
			return VulnExploited{VulnRef: exampleVulnRef, Incident: "0195f3a2-7c4e-7b3a-9d2e-000000000099", Declared: true, Severity: "SEV2", Note: "seen in WAF logs"}
		}},
		{TypeVulnNoticeDrafted, KindEvent, 1, func() any {
			return VulnNotice{NoticeID: "0195f3a2-7c4e-7b3a-9d2e-000000000100", VulnID: exampleVulnRef.VulnID, Title: "Security advisory: HTTP/2 rapid reset in web",
				Body: "What happened: …"}
		}},
		{TypeVulnNoticePublished, KindEvent, 1, func() any {
			at := exampleTime
			return VulnNotice{NoticeID: "0195f3a2-7c4e-7b3a-9d2e-000000000100", VulnID: exampleVulnRef.VulnID, Title: "Security advisory: HTTP/2 rapid reset in web",
				Body: "What happened: …", URL: "/api/v1/advisories/0195f3a2-7c4e-7b3a-9d2e-000000000100", ApprovedBy: "carol", Published: &at,
				Product: "web", Service: "checkout"}
		}},
		{TypeVulnReporterUpdateRequested, KindEvent, 1, func() any {
			return VulnReporterUpdate{TrackingID: exampleVulnRef.VulnID, Status: "triaged",
				ReporterName: "Mallory Finder", ReporterEmail: "mallory@example.org", ChangedAt: exampleTime}
		}},
	}
}
