package vuln

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/fault"
	"github.com/firebreak-dev/firebreak/internal/timer"
	"github.com/firebreak-dev/firebreak/services/vuln/cvss"
	"github.com/firebreak-dev/firebreak/services/vuln/policy"
	"github.com/firebreak-dev/firebreak/services/vuln/scan"
)

// TimerSLA is the kind of the one SLA timer of each open vulnerability
// (key: its id), due at its next warning fraction or at its deadline.
const TimerSLA = "vuln.sla"

// Limits on fields.
const (
	MaxTitleLen       = 300
	MaxDescriptionLen = 20000
	MaxFieldLen       = 500
)

// Config configures a Service.
type Config struct {
	// Policy is the remediation policy. Default policy.DefaultPolicy().
	Policy *policy.Policy
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// OnCommit is called after a transaction that wrote to the outbox
	// (the relay's Notify).
	OnCommit func()
	// OnTimer is called after a transaction that scheduled a timer (the
	// timer runner's Notify).
	OnTimer func()
	// Publication configures security.txt and the public advisory pages.
	Publication Publication
	// Disclosures limits the public disclosure endpoint.
	Disclosures DisclosureLimits
}

// Service is the vuln service.
type Service struct {
	store Store
	log   *slog.Logger
	cfg   Config
	pol   policy.Policy
	now   func() time.Time
	limit *limiter
}

// New returns a service over store.
func New(store Store, logger *slog.Logger, cfg Config) (*Service, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	pol := policy.DefaultPolicy()
	if cfg.Policy != nil {
		pol = *cfg.Policy
	}
	if err := pol.Validate(); err != nil {
		return nil, fmt.Errorf("vuln policy: %w", err)
	}
	cfg.Disclosures.setDefaults()
	if err := cfg.Publication.validate(); err != nil {
		return nil, err
	}
	return &Service{store: store, log: logger, cfg: cfg, pol: pol, now: cfg.Now, limit: newLimiter(cfg.Disclosures, cfg.Now)}, nil
}

// Policy returns the remediation policy in force.
func (s *Service) Policy() policy.Policy { return s.pol }

// inTx runs fn in a transaction and pokes the relay and the timer runner
// after it committed.
func (s *Service) inTx(ctx context.Context, fn func(tx Tx) error) error {
	if err := s.store.InTx(ctx, fn); err != nil {
		return err
	}
	s.committed()
	return nil
}

func (s *Service) committed() {
	if s.cfg.OnCommit != nil {
		s.cfg.OnCommit()
	}
	if s.cfg.OnTimer != nil {
		s.cfg.OnTimer()
	}
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)

// PutProduct creates or replaces a product.
func (s *Service) PutProduct(ctx context.Context, p Product) (Product, error) {
	if !nameRE.MatchString(p.Name) {
		return Product{}, fault.Field("name", "may contain only letters, digits, '.', '-' and '_', starting with a letter or digit (at most 100)")
	}
	h, err := policy.ParseHosting(string(p.Hosting))
	if err != nil {
		return Product{}, fault.Field("hosting", "%v", err)
	}
	p.Hosting = h
	if !nameRE.MatchString(p.Service) {
		return Product{}, fault.Field("service", "is required: the technical service paged when a deadline is breached")
	}
	if _, err := s.pol.TimeFor(h, cvss.Low); err != nil {
		return Product{}, fault.Field("hosting", "%v", err)
	}
	return p, s.inTx(ctx, func(tx Tx) error { return tx.ProductPut(ctx, p) })
}

// NewVuln is what Create records.
type NewVuln struct {
	Title            string   `json:"title"`
	Description      string   `json:"description,omitempty"`
	Product          string   `json:"product"`
	Component        string   `json:"component,omitempty"`
	AffectedVersions string   `json:"affected_versions,omitempty"`
	FixedVersion     string   `json:"fixed_version,omitempty"`
	Identifiers      []string `json:"identifiers,omitempty"`
	Vector           string   `json:"cvss_vector,omitempty"`
	// Severity applies when there is no vector ("low" … "critical").
	Severity  string   `json:"severity,omitempty"`
	Source    Source   `json:"source,omitempty"`
	Reporter  Reporter `json:"reporter,omitempty"`
	Assignee  string   `json:"assignee,omitempty"`
	Public    bool     `json:"public,omitempty"`
	Embargoed bool     `json:"embargoed,omitempty"`
}

func checkLen(field, v string, max int) error {
	if len(v) > max {
		return fault.Field(field, "is longer than %d bytes", max)
	}
	return nil
}

// scoreOf reads a vector or a severity word into score, vector, severity.
func scoreOf(vector, severity string) (float64, string, cvss.Severity, error) {
	if vector != "" {
		sc, err := cvss.Parse(vector)
		if err != nil {
			e := fault.Field("cvss_vector", "%v", err)
			e.Details["metric"] = fault.DetailsOf(err)["metric"]
			return 0, "", "", e
		}
		return sc.Score, sc.Vector, sc.Severity, nil
	}
	if severity == "" {
		return 0, "", "", nil
	}
	sev, err := cvss.ParseSeverity(severity)
	if err != nil {
		return 0, "", "", fault.Field("severity", "%v", err)
	}
	return 0, "", sev, nil
}

// Create records a vulnerability by hand (API, CLI).
func (s *Service) Create(ctx context.Context, n NewVuln, actor events.Actor) (Vuln, error) {
	if strings.TrimSpace(n.Title) == "" {
		return Vuln{}, fault.Field("title", "is required")
	}
	for _, c := range []struct {
		f, v string
		max  int
	}{{"title", n.Title, MaxTitleLen}, {"description", n.Description, MaxDescriptionLen}, {"component", n.Component, MaxFieldLen},
		{"affected_versions", n.AffectedVersions, MaxFieldLen}, {"fixed_version", n.FixedVersion, MaxFieldLen}, {"assignee", n.Assignee, MaxFieldLen}} {
		if err := checkLen(c.f, c.v, c.max); err != nil {
			return Vuln{}, err
		}
	}
	if n.Source == "" {
		n.Source = SourceInternal
	}
	if !ValidSource(n.Source) {
		return Vuln{}, fault.Field("source", "must be disclosure, scanner, internal, customer or bug_bounty, got %q", n.Source)
	}
	score, vector, sev, err := scoreOf(n.Vector, n.Severity)
	if err != nil {
		return Vuln{}, err
	}
	now := s.now().UTC()
	v := Vuln{
		ID: newID(), Title: strings.TrimSpace(n.Title), Description: n.Description, Component: n.Component,
		AffectedVersions: n.AffectedVersions, FixedVersion: n.FixedVersion, Identifiers: n.Identifiers,
		Vector: vector, Score: score, Severity: sev, Source: n.Source, Reporter: n.Reporter, Assignee: n.Assignee,
		Status: StatusIdentified, Public: n.Public, Embargoed: n.Embargoed, ReportedAt: now, CreatedAt: now, UpdatedAt: now,
	}
	err = s.inTx(ctx, func(tx Tx) error {
		p, err := tx.ProductGet(ctx, n.Product)
		if errors.Is(err, ErrNotFound) {
			return fault.Field("product", "unknown product %q; create it first (PUT /api/v1/products/{name})", n.Product)
		}
		if err != nil {
			return err
		}
		v.Product, v.Hosting, v.Service = p.Name, p.Hosting, p.Service
		if v.Number, err = tx.VulnNextNumber(ctx); err != nil {
			return err
		}
		return s.insert(ctx, tx, &v, actor)
	})
	return v, err
}

// insert stores a new record with its created event, history and timer.
func (s *Service) insert(ctx context.Context, tx Tx, v *Vuln, actor events.Actor) error {
	v.Version = 1
	if err := tx.VulnInsert(ctx, *v); err != nil {
		return err
	}
	env, err := s.event(events.TypeVulnCreated, *v, actor, recorded(*v, s.dueAt(*v), nil))
	if err != nil {
		return err
	}
	if err := tx.Emit(ctx, env); err != nil {
		return err
	}
	if err := tx.HistoryAdd(ctx, History{VulnID: v.ID, Kind: HistoryCreated, At: v.CreatedAt, Severity: v.Severity,
		Actor: actorName(actor), To: string(v.Status), EventID: env.ID}); err != nil {
		return err
	}
	return s.schedule(ctx, tx, *v)
}

func (s *Service) event(typ string, v Vuln, actor events.Actor, data any, opts ...events.Option) (events.Envelope, error) {
	opts = append(opts, events.At(s.now()))
	return events.New(typ, Name, v.ID, actor, data, opts...)
}

func recorded(v Vuln, due *time.Time, changed []string) events.VulnRecorded {
	return events.VulnRecorded{VulnRef: ref(v), Title: v.Title, Product: v.Product, Component: v.Component, AdvisoryID: v.AdvisoryID,
		Identifiers: v.Identifiers, Source: string(v.Source), Status: string(v.Status), Severity: string(v.Severity),
		Score: v.Score, Vector: v.Vector, DueAt: due, Changed: changed}
}

func ref(v Vuln) events.VulnRef {
	return events.VulnRef{VulnID: v.ID, Number: v.Number, Version: v.Version}
}

func actorName(a events.Actor) string {
	if a.Name != "" {
		return a.Name
	}
	return a.ID
}

// dueAt is v's deadline now, nil without a clock.
func (s *Service) dueAt(v Vuln) *time.Time {
	c, ok, err := v.Clock(s.pol)
	if !ok || err != nil {
		return nil
	}
	d := c.At(s.now()).DueAt.UTC()
	return &d
}

// schedule sets or cancels v's SLA timer: due at the next threshold not
// yet announced (a warning fraction, then the deadline), none while the
// clock is stopped or paused or has no deadline.
func (s *Service) schedule(ctx context.Context, tx Tx, v Vuln) error {
	c, ok, err := v.Clock(s.pol)
	if err != nil {
		return err
	}
	if !ok || !v.Open() || v.SLANotified >= 1 {
		_, err := tx.CancelTimer(ctx, TimerSLA, v.ID)
		return err
	}
	now := s.now()
	st := c.At(now)
	if st.Paused || (v.Status == StatusMitigated && s.pol.PauseWhileMitigated) {
		_, err := tx.CancelTimer(ctx, TimerSLA, v.ID)
		return err
	}
	var due time.Time
	switch {
	case st.Breached || st.Warning > v.SLANotified:
		due = now // crossed and not yet announced
	case st.NextWarning > 0:
		due = st.NextWarningAt
	default:
		due = st.DueAt
	}
	return tx.ScheduleTimer(ctx, timer.Timer{Kind: TimerSLA, Key: v.ID, DueAt: due, CreatedAt: now})
}

// HandleTimer fires an SLA timer: it announces every threshold the clock
// has crossed and not yet announced (the highest warning, or the breach,
// which declares an incident on the product's owning service) and
// schedules the next.
func (s *Service) HandleTimer(ctx context.Context, t timer.Timer) error {
	if t.Kind != TimerSLA {
		return fmt.Errorf("vuln: unknown timer kind %q", t.Kind)
	}
	err := s.store.FireTimer(ctx, t, func(tx Tx) error {
		v, err := tx.VulnGet(ctx, t.Key, 0)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return s.evaluate(ctx, tx, v)
	})
	if errors.Is(err, timer.ErrGone) {
		return nil
	}
	if err == nil {
		s.committed()
	}
	return err
}

// evaluate announces crossed thresholds of v and reschedules its timer.
func (s *Service) evaluate(ctx context.Context, tx Tx, v Vuln) error {
	c, ok, err := v.Clock(s.pol)
	if err != nil || !ok || !v.Open() {
		return err
	}
	now := s.now().UTC()
	st := c.At(now)
	if st.Paused {
		return s.schedule(ctx, tx, v)
	}
	sla := events.VulnSLA{Title: v.Title, Product: v.Product, Severity: string(v.Severity), DueAt: st.DueAt.UTC(),
		RemainingSeconds: int64(st.Remaining / time.Second)}
	actor := events.System(Name)
	switch {
	case st.Breached && v.SLANotified < 1:
		sla.Fraction, sla.Service = 1, v.Service
		var declare *events.Envelope
		if v.Incident == "" {
			d, err := s.declare(v, fmt.Sprintf("Remediation deadline breached: %s %s", v.Key(), v.Title),
				fmt.Sprintf("%s (%s, %s) was due %s under the remediation policy.", v.Key(), v.Product, v.Severity, st.DueAt.UTC().Format(time.RFC3339)), actor)
			if err != nil {
				return err
			}
			declare, v.Incident = &d, d.ID
		}
		sla.Incident = v.Incident
		v.SLANotified = 1
		if err := s.save(ctx, tx, &v, HistoryBreach, actor, "", "", "deadline "+st.DueAt.UTC().Format(time.RFC3339)); err != nil {
			return err
		}
		sla.VulnRef = ref(v)
		env, err := s.event(events.TypeVulnSLABreached, v, actor, sla)
		if err != nil {
			return err
		}
		envs := []events.Envelope{env}
		if declare != nil {
			envs = append(envs, *declare)
		}
		if err := tx.Emit(ctx, envs...); err != nil {
			return err
		}
	case !st.Breached && st.Warning > v.SLANotified:
		sla.Fraction = st.Warning
		v.SLANotified = st.Warning
		if err := s.save(ctx, tx, &v, HistoryWarning, actor, "", "", fmt.Sprintf("%.0f%% of the time to fix used", st.Warning*100)); err != nil {
			return err
		}
		sla.VulnRef = ref(v)
		env, err := s.event(events.TypeVulnSLAWarning, v, actor, sla)
		if err != nil {
			return err
		}
		if err := tx.Emit(ctx, env); err != nil {
			return err
		}
	}
	return s.schedule(ctx, tx, v)
}

// declare builds an incident.declare command for v's owning service. The
// command's id becomes the incident's id (the incident service's rule),
// which is how v links to it before the incident exists.
func (s *Service) declare(v Vuln, title, summary string, actor events.Actor) (events.Envelope, error) {
	if len(title) > 250 {
		title = title[:250]
	}
	return events.New(events.CmdIncidentDeclare, Name, v.ID, actor, events.DeclareIncident{
		Title: title, Service: v.Service, Severity: IncidentSeverity(v.Severity), Summary: summary,
	}, events.At(s.now()))
}

// save updates v (optimistically) and appends a history entry.
func (s *Service) save(ctx context.Context, tx Tx, v *Vuln, kind HistoryKind, actor events.Actor, from, to, reason string) error {
	v.UpdatedAt = s.now().UTC()
	nv, err := tx.VulnUpdate(ctx, *v)
	if err != nil {
		return err
	}
	*v = nv
	return tx.HistoryAdd(ctx, History{VulnID: v.ID, Kind: kind, At: v.UpdatedAt, Severity: v.Severity, Actor: actorName(actor),
		From: from, To: to, Reason: reason})
}

// get reads a vulnerability by reference inside tx.
func get(ctx context.Context, tx Tx, r string) (Vuln, error) {
	id, n := ParseRef(r)
	if id == "" && n == 0 {
		return Vuln{}, fault.Field("vulnerability", "is required")
	}
	return tx.VulnGet(ctx, id, n)
}

// Get returns a vulnerability by reference (VULN-7, 7 or its id).
func (s *Service) Get(ctx context.Context, r string) (Vuln, error) {
	id, n := ParseRef(r)
	return s.store.VulnGet(ctx, id, n)
}

// List returns vulnerabilities matching f.
func (s *Service) List(ctx context.Context, f Filter) ([]Vuln, error) {
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 100
	}
	return s.store.VulnList(ctx, f)
}

// History returns a vulnerability's history.
func (s *Service) History(ctx context.Context, vulnID string) ([]History, error) {
	return s.store.HistoryList(ctx, vulnID)
}

// TransitionRequest moves a vulnerability along its lifecycle.
type TransitionRequest struct {
	To     Status `json:"to"`
	Reason string `json:"reason,omitempty"`
	// DuplicateOf is required for duplicate.
	DuplicateOf string `json:"duplicate_of,omitempty"`
	// ExpectedVersion, when set, refuses the change if the record moved on.
	ExpectedVersion int64 `json:"expected_version,omitempty"`
}

// Transition applies a lifecycle step. Illegal steps are ErrIllegalTransition
// (409); rejected and duplicate need a reason; triaged needs a severity.
func (s *Service) Transition(ctx context.Context, r string, req TransitionRequest, actor events.Actor) (Vuln, error) {
	to, ok := ParseStatus(string(req.To))
	if !ok {
		return Vuln{}, fault.Field("to", "unknown status %q", req.To)
	}
	if err := checkLen("reason", req.Reason, MaxFieldLen); err != nil {
		return Vuln{}, err
	}
	if (to == StatusRejected || to == StatusDuplicate) && strings.TrimSpace(req.Reason) == "" {
		return Vuln{}, fault.Field("reason", "is required to mark a vulnerability %s", to)
	}
	if to == StatusDuplicate && req.DuplicateOf == "" {
		return Vuln{}, fault.Field("duplicate_of", "is required to mark a vulnerability duplicate")
	}
	var v Vuln
	err := s.inTx(ctx, func(tx Tx) error {
		var err error
		if v, err = get(ctx, tx, r); err != nil {
			return err
		}
		if req.ExpectedVersion > 0 && req.ExpectedVersion != v.Version {
			return fault.Wrap(ErrConflict, "%s is at version %d, not %d; reload and retry", v.Key(), v.Version, req.ExpectedVersion)
		}
		from := v.Status
		if !CanMove(from, to) {
			next := Next(from)
			msg := fmt.Sprintf("%s is %s; it cannot move to %s", v.Key(), from, to)
			if len(next) > 0 {
				names := make([]string, len(next))
				for i, n := range next {
					names[i] = string(n)
				}
				msg += " (next: " + strings.Join(names, ", ") + ")"
			}
			return fault.Wrap(ErrIllegalTransition, "%s", msg)
		}
		if to == StatusTriaged && v.Severity == "" {
			return fault.Wrap(ErrIllegalTransition, "%s has no severity yet; score it (POST …/severity) before triage", v.Key())
		}
		if to == StatusDuplicate {
			orig, err := get(ctx, tx, req.DuplicateOf)
			if errors.Is(err, ErrNotFound) {
				return fault.Field("duplicate_of", "unknown vulnerability %q", req.DuplicateOf)
			}
			if err != nil {
				return err
			}
			if orig.ID == v.ID {
				return fault.Field("duplicate_of", "a vulnerability cannot duplicate itself")
			}
			v.DuplicateOf = orig.ID
		}
		now := s.now().UTC()
		if from == StatusMitigated && len(v.Mitigated) > 0 {
			v.Mitigated[len(v.Mitigated)-1].To = now
		}
		if to == StatusMitigated {
			v.Mitigated = append(v.Mitigated, policy.Interval{From: now})
		}
		if !ClockRuns(to) && v.RemediatedAt.IsZero() {
			v.RemediatedAt = now
		}
		v.Status = to
		if to == StatusRejected || to == StatusDuplicate {
			v.Reason = req.Reason
		}
		if err := s.save(ctx, tx, &v, HistoryTransition, actor, string(from), string(to), req.Reason); err != nil {
			return err
		}
		env, err := s.event(events.TypeVulnTransitioned, v, actor, events.VulnTransitioned{VulnRef: ref(v), From: string(from), To: string(to),
			Reason: req.Reason, DuplicateOf: v.DuplicateOf})
		if err != nil {
			return err
		}
		if err := tx.Emit(ctx, env); err != nil {
			return err
		}
		if err := s.tellReporter(ctx, tx, v, actor); err != nil {
			return err
		}
		return s.schedule(ctx, tx, v)
	})
	return v, err
}

// reporterStatuses are the statuses a reporter is told about.
var reporterStatuses = map[Status]bool{
	StatusAcknowledged: true, StatusTriaged: true, StatusReleased: true, StatusMitigated: true,
	StatusCommunicated: true, StatusClosed: true, StatusRejected: true, StatusDuplicate: true,
}

// tellReporter asks notify (vuln.reporter_update_requested) to email the
// reporter of a disclosure that gave an address when v reached a status
// the reporter is told about. The event carries the tracking id, the
// status and the address: not the title, the reason or anything else
// triage wrote.
func (s *Service) tellReporter(ctx context.Context, tx Tx, v Vuln, actor events.Actor) error {
	if v.Source != SourceDisclosure || v.Reporter.Contact == "" || !reporterStatuses[v.Status] {
		return nil
	}
	now := s.now().UTC()
	env, err := s.event(events.TypeVulnReporterUpdateRequested, v, actor, events.VulnReporterUpdate{TrackingID: v.ID, Status: string(v.Status),
		ReporterName: v.Reporter.Name, ReporterEmail: v.Reporter.Contact, ChangedAt: now})
	if err != nil {
		return err
	}
	return tx.Emit(ctx, env)
}

// SeverityRequest rescores a vulnerability.
type SeverityRequest struct {
	Vector   string `json:"cvss_vector,omitempty"`
	Severity string `json:"severity,omitempty"`
	Reason   string `json:"reason"`
}

// SetSeverity rescores a vulnerability: its deadline is recomputed (the
// clock keeps its start) and the event says why and how it moved.
func (s *Service) SetSeverity(ctx context.Context, r string, req SeverityRequest, actor events.Actor) (Vuln, error) {
	if req.Vector == "" && req.Severity == "" {
		return Vuln{}, fault.Field("cvss_vector", "a CVSS vector or a severity is required")
	}
	if strings.TrimSpace(req.Reason) == "" {
		return Vuln{}, fault.Field("reason", "is required: say why the severity changes")
	}
	if err := checkLen("reason", req.Reason, MaxFieldLen); err != nil {
		return Vuln{}, err
	}
	score, vector, sev, err := scoreOf(req.Vector, req.Severity)
	if err != nil {
		return Vuln{}, err
	}
	var v Vuln
	err = s.inTx(ctx, func(tx Tx) error {
		var err error
		if v, err = get(ctx, tx, r); err != nil {
			return err
		}
		if v.Status == StatusClosed || v.Status == StatusRejected || v.Status == StatusDuplicate {
			return fault.Wrap(ErrIllegalTransition, "%s is %s; its severity no longer changes", v.Key(), v.Status)
		}
		from := v.Severity
		before := s.dueAt(v)
		why := s.reclassify(v, sev)
		v.Severity, v.Score, v.Vector = sev, score, vector
		after := s.dueAt(v)
		reason := req.Reason
		if why != "" {
			reason = why + "; " + req.Reason
		}
		if err := s.save(ctx, tx, &v, HistorySeverity, actor, string(from), string(sev), reason); err != nil {
			return err
		}
		env, err := s.event(events.TypeVulnSeverityChanged, v, actor, events.VulnSeverityChanged{VulnRef: ref(v), From: string(from), To: string(sev),
			Score: score, Vector: vector, DueBefore: before, DueAt: after, Reason: reason})
		if err != nil {
			return err
		}
		if err := tx.Emit(ctx, env); err != nil {
			return err
		}
		return s.schedule(ctx, tx, v)
	})
	return v, err
}

// reclassify says how a severity change moves the deadline ("" when v
// has no clock before or after).
func (s *Service) reclassify(v Vuln, sev cvss.Severity) string {
	c, ok, err := v.Clock(s.pol)
	if err != nil || !ok || sev == cvss.None || sev == "" {
		return ""
	}
	_, why, err := c.Reclassify(s.pol, sev, s.now())
	if err != nil {
		return ""
	}
	return why
}

// Patch changes a vulnerability's descriptive fields; nil fields stay.
type Patch struct {
	Title            *string   `json:"title,omitempty"`
	Description      *string   `json:"description,omitempty"`
	AffectedVersions *string   `json:"affected_versions,omitempty"`
	FixedVersion     *string   `json:"fixed_version,omitempty"`
	Identifiers      *[]string `json:"identifiers,omitempty"`
	Assignee         *string   `json:"assignee,omitempty"`
	Public           *bool     `json:"public,omitempty"`
	Embargoed        *bool     `json:"embargoed,omitempty"`
}

// Update applies a patch.
func (s *Service) Update(ctx context.Context, r string, p Patch, actor events.Actor) (Vuln, error) {
	if p.Title != nil && strings.TrimSpace(*p.Title) == "" {
		return Vuln{}, fault.Field("title", "cannot be empty")
	}
	for _, c := range []struct {
		f   string
		v   *string
		max int
	}{{"title", p.Title, MaxTitleLen}, {"description", p.Description, MaxDescriptionLen}, {"affected_versions", p.AffectedVersions, MaxFieldLen},
		{"fixed_version", p.FixedVersion, MaxFieldLen}, {"assignee", p.Assignee, MaxFieldLen}} {
		if c.v != nil {
			if err := checkLen(c.f, *c.v, c.max); err != nil {
				return Vuln{}, err
			}
		}
	}
	var v Vuln
	err := s.inTx(ctx, func(tx Tx) error {
		var err error
		if v, err = get(ctx, tx, r); err != nil {
			return err
		}
		var changed []string
		setS := func(name string, dst *string, src *string) {
			if src != nil && *dst != *src {
				*dst = *src
				changed = append(changed, name)
			}
		}
		setB := func(name string, dst *bool, src *bool) {
			if src != nil && *dst != *src {
				*dst = *src
				changed = append(changed, name)
			}
		}
		setS("title", &v.Title, p.Title)
		setS("description", &v.Description, p.Description)
		setS("affected_versions", &v.AffectedVersions, p.AffectedVersions)
		setS("fixed_version", &v.FixedVersion, p.FixedVersion)
		setS("assignee", &v.Assignee, p.Assignee)
		setB("public", &v.Public, p.Public)
		setB("embargoed", &v.Embargoed, p.Embargoed)
		if p.Identifiers != nil && !slices.Equal(v.Identifiers, *p.Identifiers) {
			v.Identifiers = *p.Identifiers
			changed = append(changed, "identifiers")
		}
		if len(changed) == 0 {
			return nil
		}
		if err := s.save(ctx, tx, &v, HistoryUpdated, actor, "", "", strings.Join(changed, ", ")); err != nil {
			return err
		}
		env, err := s.event(events.TypeVulnUpdated, v, actor, recorded(v, s.dueAt(v), changed))
		if err != nil {
			return err
		}
		return tx.Emit(ctx, env)
	})
	return v, err
}

// ExploitedRequest marks a vulnerability actively exploited.
type ExploitedRequest struct {
	Note string `json:"note,omitempty"`
}

// MarkExploited records active exploitation and opens a security incident
// on the product's owning service (incident.declare, severity from the
// CVSS score), or links the incident already declared for it.
func (s *Service) MarkExploited(ctx context.Context, r string, req ExploitedRequest, actor events.Actor) (Vuln, error) {
	if err := checkLen("note", req.Note, MaxFieldLen); err != nil {
		return Vuln{}, err
	}
	var v Vuln
	err := s.inTx(ctx, func(tx Tx) error {
		var err error
		if v, err = get(ctx, tx, r); err != nil {
			return err
		}
		if v.Exploited {
			return nil
		}
		var envs []events.Envelope
		declared := false
		if v.Incident == "" {
			d, err := s.declare(v, fmt.Sprintf("Actively exploited: %s %s", v.Key(), v.Title),
				fmt.Sprintf("%s in %s (%s, CVSS %.1f) is under active exploitation. %s", v.Key(), v.Product, v.Severity, v.Score, req.Note), actor)
			if err != nil {
				return err
			}
			envs, v.Incident, declared = append(envs, d), d.ID, true
		}
		v.Exploited = true
		if err := s.save(ctx, tx, &v, HistoryExploited, actor, "", "", req.Note); err != nil {
			return err
		}
		env, err := s.event(events.TypeVulnExploited, v, actor, events.VulnExploited{VulnRef: ref(v), Incident: v.Incident, Declared: declared,
			Severity: IncidentSeverity(v.Severity), Note: req.Note})
		if err != nil {
			return err
		}
		return tx.Emit(ctx, append([]events.Envelope{env}, envs...)...)
	})
	return v, err
}

// ImportResult says what an import did.
type ImportResult struct {
	Findings  int `json:"findings"`
	Created   int `json:"created"`
	Updated   int `json:"updated"`
	Unchanged int `json:"unchanged"`
}

// Import records a scanner report's findings for a product in one
// transaction: a new (component, advisory) is created, a known one whose
// finding changed is updated, an unchanged one is left alone (no event).
// A malformed report imports nothing.
func (s *Service) Import(ctx context.Context, product string, f scan.Format, report []byte, actor events.Actor) (ImportResult, error) {
	findings, err := scan.Parse(f, report)
	if err != nil {
		return ImportResult{}, err
	}
	if product == "" {
		return ImportResult{}, fault.Field("product", "is required: the product the report is about")
	}
	var res ImportResult
	err = s.inTx(ctx, func(tx Tx) error {
		res = ImportResult{Findings: len(findings)}
		p, err := tx.ProductGet(ctx, product)
		if errors.Is(err, ErrNotFound) {
			return fault.Field("product", "unknown product %q; create it first (PUT /api/v1/products/{name})", product)
		}
		if err != nil {
			return err
		}
		existing, err := tx.VulnListByProduct(ctx, product)
		if err != nil {
			return err
		}
		byKey := make(map[[2]string]Vuln, len(existing))
		for _, v := range existing {
			if v.AdvisoryID != "" {
				byKey[[2]string{v.Component, v.AdvisoryID}] = v
			}
		}
		next := int64(0)
		now := s.now().UTC()
		var envs []events.Envelope
		for i, fd := range findings {
			if len(fd.Title) > MaxTitleLen {
				fd.Title = fd.Title[:MaxTitleLen]
			}
			if len(fd.Description) > MaxDescriptionLen {
				fd.Description = fd.Description[:MaxDescriptionLen]
			}
			if len(fd.Component) > MaxFieldLen || len(fd.AdvisoryID) > MaxFieldLen {
				return fault.Field(fmt.Sprintf("findings[%d]", i), "component or advisory id longer than %d bytes", MaxFieldLen)
			}
			fp := fingerprint(fd)
			old, ok := byKey[[2]string{fd.Component, fd.AdvisoryID}]
			if ok && old.Fingerprint == fp {
				res.Unchanged++
				continue
			}
			if !ok {
				if next == 0 {
					if next, err = tx.VulnNextNumber(ctx); err != nil {
						return err
					}
				}
				v := Vuln{ID: newID(), Number: next, Title: fd.Title, Description: fd.Description, Product: p.Name, Component: fd.Component,
					AffectedVersions: fd.InstalledVersion, FixedVersion: fd.FixedVersion, AdvisoryID: fd.AdvisoryID, Identifiers: fd.Identifiers,
					Vector: fd.Vector, Score: fd.Score, Severity: fd.Severity, Hosting: p.Hosting, Service: p.Service, Source: SourceScanner,
					Status: StatusIdentified, Fingerprint: fp, ReportedAt: now, CreatedAt: now, UpdatedAt: now, Version: 1}
				next++
				if err := tx.VulnInsert(ctx, v); err != nil {
					return err
				}
				env, err := s.event(events.TypeVulnCreated, v, actor, recorded(v, s.dueAt(v), nil))
				if err != nil {
					return err
				}
				envs = append(envs, env)
				if err := tx.HistoryAdd(ctx, History{VulnID: v.ID, Kind: HistoryCreated, At: now, Severity: v.Severity, Actor: actorName(actor),
					To: string(v.Status), Reason: "imported from " + string(f), EventID: env.ID}); err != nil {
					return err
				}
				if err := s.schedule(ctx, tx, v); err != nil {
					return err
				}
				byKey[[2]string{fd.Component, fd.AdvisoryID}] = v
				res.Created++
				continue
			}
			v := old
			changed := diffFinding(&v, fd)
			v.Fingerprint = fp
			sevChanged := old.Severity != v.Severity
			kind := HistoryUpdated
			reason := "re-imported from " + string(f) + ": " + strings.Join(changed, ", ")
			if sevChanged {
				kind = HistorySeverity
				if why := s.reclassify(old, v.Severity); why != "" {
					reason = why + "; " + reason
				}
			}
			if err := s.save(ctx, tx, &v, kind, actor, string(old.Severity), string(v.Severity), reason); err != nil {
				return err
			}
			env, err := s.event(events.TypeVulnUpdated, v, actor, recorded(v, s.dueAt(v), changed))
			if err != nil {
				return err
			}
			envs = append(envs, env)
			if sevChanged {
				if err := s.schedule(ctx, tx, v); err != nil {
					return err
				}
			}
			byKey[[2]string{fd.Component, fd.AdvisoryID}] = v
			res.Updated++
		}
		if len(envs) == 0 {
			return nil
		}
		return tx.Emit(ctx, envs...)
	})
	return res, err
}

// fingerprint hashes what a scanner says about a finding.
func fingerprint(f scan.Finding) string {
	h := sha256.New()
	for _, s := range []string{f.Title, f.Description, f.InstalledVersion, f.FixedVersion, string(f.Severity), fmt.Sprint(f.Score), f.Vector,
		strings.Join(f.Identifiers, ",")} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// diffFinding copies a finding's fields onto v and names those that changed.
func diffFinding(v *Vuln, f scan.Finding) []string {
	var changed []string
	set := func(name string, dst *string, src string) {
		if *dst != src {
			*dst = src
			changed = append(changed, name)
		}
	}
	set("title", &v.Title, f.Title)
	set("description", &v.Description, f.Description)
	set("affected_versions", &v.AffectedVersions, f.InstalledVersion)
	set("fixed_version", &v.FixedVersion, f.FixedVersion)
	set("cvss_vector", &v.Vector, f.Vector)
	if v.Score != f.Score {
		v.Score = f.Score
		changed = append(changed, "cvss_score")
	}
	if v.Severity != f.Severity {
		v.Severity = f.Severity
		changed = append(changed, "severity")
	}
	if !slices.Equal(v.Identifiers, f.Identifiers) {
		v.Identifiers = f.Identifiers
		changed = append(changed, "identifiers")
	}
	return changed
}

func newID() string { return uuid.Must(uuid.NewV7()).String() }
