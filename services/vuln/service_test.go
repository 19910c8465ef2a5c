package vuln_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/fault"
	"github.com/firebreak-dev/firebreak/services/vuln"
	"github.com/firebreak-dev/firebreak/services/vuln/cvss"
	"github.com/firebreak-dev/firebreak/services/vuln/policy"
)

const (
	vecHigh     = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H" // 7.5
	vecCritical = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H" // 9.8
)

func TestLifecycle(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	ctx := context.Background()
	v := h.create(vuln.NewVuln{Vector: vecHigh, Reporter: vuln.Reporter{Name: "Eve", Contact: "eve@example.org"}})
	if v.Key() != "VULN-1" || v.Severity != cvss.High || v.Score != 7.5 || v.Status != vuln.StatusIdentified || v.Hosting != policy.Cloud || v.Service != "checkout" {
		t.Fatalf("created %+v", v)
	}
	path := []vuln.Status{vuln.StatusAcknowledged, vuln.StatusTriaged, vuln.StatusRemediationPlanned, vuln.StatusFixInProgress,
		vuln.StatusVerifying, vuln.StatusReleased, vuln.StatusCommunicated, vuln.StatusClosed}
	for i, to := range path {
		h.clock.Set(t0.Add(time.Duration(i+1) * time.Hour))
		var err error
		if v, err = h.svc.Transition(ctx, v.Key(), vuln.TransitionRequest{To: to, Reason: "step"}, alice); err != nil {
			t.Fatalf("→ %s: %v", to, err)
		}
	}
	if !v.RemediatedAt.Equal(t0.Add(6*time.Hour)) || v.Version != 9 {
		t.Errorf("remediated at %v (want release time), version %d", v.RemediatedAt, v.Version)
	}
	evs := h.newEvents()
	if got := types(evs); len(got) != 9 || got[0] != events.TypeVulnCreated || got[8] != events.TypeVulnTransitioned {
		t.Fatalf("events %v", got)
	}
	var last events.VulnTransitioned
	if err := evs[8].DecodeData(&last); err != nil || last.From != "communicated" || last.To != "closed" || evs[8].Actor.ID != "alice" {
		t.Errorf("last transition %+v actor %+v", last, evs[8].Actor)
	}
	for _, e := range evs {
		if strings.Contains(string(e.Data), "eve@example.org") {
			t.Errorf("event %s carries the reporter's contact", e.Type)
		}
	}
	hist, _ := h.svc.History(ctx, v.ID)
	if len(hist) != 9 || hist[8].Actor != "Alice" || hist[8].From != "communicated" {
		t.Errorf("history %+v", hist)
	}
}

func TestIllegalTransitions(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	ctx := context.Background()
	v := h.create(vuln.NewVuln{})
	other := h.create(vuln.NewVuln{Title: "another"})
	tests := []struct {
		name string
		req  vuln.TransitionRequest
		kind fault.Kind
		err  error
	}{
		{"skip ahead", vuln.TransitionRequest{To: vuln.StatusReleased}, fault.Conflict, vuln.ErrIllegalTransition},
		{"unknown status", vuln.TransitionRequest{To: "fixed"}, fault.Invalid, nil},
		{"reject without reason", vuln.TransitionRequest{To: vuln.StatusRejected}, fault.Invalid, nil},
		{"duplicate without original", vuln.TransitionRequest{To: vuln.StatusDuplicate, Reason: "dup"}, fault.Invalid, nil},
		{"duplicate of unknown", vuln.TransitionRequest{To: vuln.StatusDuplicate, Reason: "dup", DuplicateOf: "VULN-99"}, fault.Invalid, nil},
		{"stale version", vuln.TransitionRequest{To: vuln.StatusAcknowledged, ExpectedVersion: 7}, fault.Conflict, vuln.ErrConflict},
	}
	for _, tt := range tests {
		_, err := h.svc.Transition(ctx, v.Key(), tt.req, alice)
		if fault.KindOf(err) != tt.kind || (tt.err != nil && !errors.Is(err, tt.err)) {
			t.Errorf("%s: %v (kind %s)", tt.name, err, fault.KindOf(err))
		}
	}
	// Triage needs a severity.
	v, _ = h.svc.Transition(ctx, v.Key(), vuln.TransitionRequest{To: vuln.StatusAcknowledged}, alice)
	if _, err := h.svc.Transition(ctx, v.Key(), vuln.TransitionRequest{To: vuln.StatusTriaged}, alice); !errors.Is(err, vuln.ErrIllegalTransition) {
		t.Errorf("triage without severity: %v", err)
	}
	v, err := h.svc.Transition(ctx, v.Key(), vuln.TransitionRequest{To: vuln.StatusDuplicate, Reason: "same bug", DuplicateOf: other.Key()}, alice)
	if err != nil || v.DuplicateOf != other.ID || v.Reason != "same bug" {
		t.Fatalf("duplicate: %+v %v", v, err)
	}
	if _, err := h.svc.Transition(ctx, v.Key(), vuln.TransitionRequest{To: vuln.StatusAcknowledged}, alice); !errors.Is(err, vuln.ErrIllegalTransition) {
		t.Errorf("out of duplicate: %v", err)
	}
	if _, err := h.svc.Transition(ctx, "VULN-77", vuln.TransitionRequest{To: vuln.StatusAcknowledged}, alice); !errors.Is(err, vuln.ErrNotFound) {
		t.Errorf("unknown vulnerability: %v", err)
	}
}

func TestCreateValidation(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	for name, c := range map[string]struct {
		n     vuln.NewVuln
		field string
	}{
		"no title":        {vuln.NewVuln{Product: "web"}, "title"},
		"unknown product": {vuln.NewVuln{Title: "x", Product: "nope"}, "product"},
		"bad vector":      {vuln.NewVuln{Title: "x", Product: "web", Vector: "CVSS:3.1/AV:Q/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}, "cvss_vector"},
		"bad severity":    {vuln.NewVuln{Title: "x", Product: "web", Severity: "urgent"}, "severity"},
		"bad source":      {vuln.NewVuln{Title: "x", Product: "web", Source: "rumour"}, "source"},
		"long title":      {vuln.NewVuln{Title: strings.Repeat("x", 301), Product: "web"}, "title"},
	} {
		_, err := h.svc.Create(context.Background(), c.n, alice)
		if fault.KindOf(err) != fault.Invalid || fault.DetailsOf(err)["field"] != c.field {
			t.Errorf("%s: %v (details %v)", name, err, fault.DetailsOf(err))
		}
	}
	_, err := h.svc.Create(context.Background(), vuln.NewVuln{Title: "x", Product: "web", Vector: "CVSS:3.1/AV:Q/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}, alice)
	if fault.DetailsOf(err)["metric"] != "AV" {
		t.Errorf("bad vector does not name the metric: %v", fault.DetailsOf(err))
	}
	if evs := h.newEvents(); len(evs) != 0 {
		t.Errorf("refused creations emitted %v", types(evs))
	}
}

// TestSLAClock: a High cloud vulnerability has 6 weeks; warnings at 50 %
// and 80 %, a breach at 100 % that declares an incident on the product's
// owning service, each once.
func TestSLAClock(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	v := h.create(vuln.NewVuln{Vector: vecHigh})
	h.newEvents()
	ttf := 6 * policy.Week
	if n := h.fire(); n != 0 {
		t.Fatalf("%d timers fired at creation", n)
	}
	h.clock.Set(t0.Add(ttf/2 - time.Minute))
	if n := h.fire(); n != 0 {
		t.Fatalf("fired before 50%%")
	}
	h.clock.Set(t0.Add(ttf / 2))
	h.fire()
	evs := h.newEvents()
	if len(evs) != 1 || evs[0].Type != events.TypeVulnSLAWarning {
		t.Fatalf("at 50%%: %v", types(evs))
	}
	var w events.VulnSLA
	_ = evs[0].DecodeData(&w)
	if w.Fraction != 0.5 || !w.DueAt.Equal(t0.Add(ttf)) || w.RemainingSeconds != int64(ttf/2/time.Second) {
		t.Errorf("warning %+v", w)
	}
	h.fire()
	if evs := h.newEvents(); len(evs) != 0 {
		t.Fatalf("fired twice: %v", types(evs))
	}
	h.clock.Set(t0.Add(ttf * 8 / 10))
	h.fire()
	if evs := h.newEvents(); len(evs) != 1 || evs[0].Type != events.TypeVulnSLAWarning {
		t.Fatalf("at 80%%: %v", types(evs))
	}
	h.clock.Set(t0.Add(ttf))
	h.fire()
	evs = h.newEvents()
	if got := types(evs); !slices.Equal(got, []string{events.TypeVulnSLABreached, events.CmdIncidentDeclare}) {
		t.Fatalf("at 100%%: %v", got)
	}
	var b events.VulnSLA
	_ = evs[0].DecodeData(&b)
	var d events.DeclareIncident
	_ = evs[1].DecodeData(&d)
	if d.Service != "checkout" || d.Severity != "SEV2" || b.Incident != evs[1].ID || b.Service != "checkout" {
		t.Errorf("breach %+v declares %+v (id %s)", b, d, evs[1].ID)
	}
	got, _ := h.svc.Get(context.Background(), v.Key())
	if got.Incident != evs[1].ID || got.SLANotified != 1 {
		t.Errorf("vuln after breach: incident %q notified %v", got.Incident, got.SLANotified)
	}
	h.clock.Set(t0.Add(2 * ttf))
	if n := h.fire(); n != 0 {
		t.Errorf("%d timers after the breach", n)
	}
	rep, err := h.svc.Report(context.Background(), t0, t0.Add(3*ttf))
	if err != nil || rep.Breaches["High"] != 1 || rep.Open["High"][vuln.SLABreached] != 1 {
		t.Errorf("report %+v %v", rep, err)
	}
}

// TestSLACatchUp: a timer that fires late announces only the highest
// threshold crossed.
func TestSLACatchUp(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.create(vuln.NewVuln{Vector: vecHigh})
	h.newEvents()
	h.clock.Set(t0.Add(6 * policy.Week * 9 / 10))
	h.fire()
	evs := h.newEvents()
	var w events.VulnSLA
	if len(evs) != 1 || evs[0].DecodeData(&w) != nil || w.Fraction != 0.8 {
		t.Fatalf("late timer: %v %+v", types(evs), w)
	}
}

func TestSeverityChangeRecomputesDeadline(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	ctx := context.Background()
	v := h.create(vuln.NewVuln{Vector: vecHigh})
	h.newEvents()
	h.clock.Set(t0.Add(policy.Week))
	v, err := h.svc.SetSeverity(ctx, v.Key(), vuln.SeverityRequest{Vector: vecCritical, Reason: "no login needed"}, alice)
	if err != nil {
		t.Fatal(err)
	}
	evs := h.newEvents()
	var sc events.VulnSeverityChanged
	if len(evs) != 1 || evs[0].DecodeData(&sc) != nil {
		t.Fatalf("events %v", types(evs))
	}
	if sc.From != "High" || sc.To != "Critical" || !sc.DueBefore.Equal(t0.Add(6*policy.Week)) || !sc.DueAt.Equal(t0.Add(4*policy.Week)) ||
		!strings.Contains(sc.Reason, "6 weeks → 4 weeks") || !strings.Contains(sc.Reason, "no login needed") {
		t.Errorf("severity change %+v", sc)
	}
	// The 50 % warning of the new deadline is at 2 weeks.
	h.clock.Set(t0.Add(2 * policy.Week))
	h.fire()
	if evs := h.newEvents(); len(evs) != 1 || evs[0].Type != events.TypeVulnSLAWarning {
		t.Errorf("warning at the new 50%%: %v", types(evs))
	}
	if _, err := h.svc.SetSeverity(ctx, v.Key(), vuln.SeverityRequest{Severity: "high"}, alice); fault.DetailsOf(err)["field"] != "reason" {
		t.Errorf("no reason: %v", err)
	}
}

func TestDataCenterAndBugBounty(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	v := h.create(vuln.NewVuln{Product: "server", Vector: vecCritical, Source: vuln.SourceBugBounty})
	sla := v.SLAAt(h.svc.Policy(), t0)
	// Data Center Critical: 12 weeks, from two weeks after the report.
	if want := t0.Add(14 * policy.Week); !sla.DueAt.Equal(want) {
		t.Errorf("due %v, want %v", sla.DueAt, want)
	}
	h.clock.Set(t0.Add(2*policy.Week + 6*policy.Week - time.Second))
	if n := h.fire(); n != 0 {
		t.Errorf("warned before half of the clock")
	}
	h.clock.Set(t0.Add(8 * policy.Week))
	if h.fire(); len(h.newEvents()) != 2 { // created + warning
		t.Errorf("no warning at half of the clock")
	}
}

func TestPauseWhileMitigated(t *testing.T) {
	t.Parallel()
	pol := policy.DefaultPolicy()
	pol.PauseWhileMitigated = true
	h := newHarness(t, func(c *vuln.Config) { c.Policy = &pol })
	ctx := context.Background()
	v := h.create(vuln.NewVuln{Vector: vecHigh})
	for _, to := range []vuln.Status{vuln.StatusAcknowledged, vuln.StatusTriaged, vuln.StatusRemediationPlanned, vuln.StatusFixInProgress} {
		v, _ = h.svc.Transition(ctx, v.Key(), vuln.TransitionRequest{To: to}, alice)
	}
	h.clock.Set(t0.Add(policy.Week))
	v, _ = h.svc.Transition(ctx, v.Key(), vuln.TransitionRequest{To: vuln.StatusMitigated, Reason: "WAF rule"}, alice)
	h.newEvents()
	h.clock.Set(t0.Add(20 * policy.Week))
	if n := h.fire(); n != 0 {
		t.Errorf("%d timers fired while paused", n)
	}
	if s := v.SLAAt(h.svc.Policy(), h.clock.Now()); s.State != vuln.SLAPaused {
		t.Errorf("state %s", s.State)
	}
	v, _ = h.svc.Transition(ctx, v.Key(), vuln.TransitionRequest{To: vuln.StatusFixInProgress}, alice)
	if s := v.SLAAt(h.svc.Policy(), h.clock.Now()); !s.DueAt.Equal(t0.Add(25 * policy.Week)) {
		t.Errorf("due after a 19-week pause: %v", s.DueAt)
	}
	h.clock.Set(t0.Add(22 * policy.Week))
	h.fire()
	if evs := h.newEvents(); len(evs) != 2 || evs[1].Type != events.TypeVulnSLAWarning { // transition + warning
		t.Errorf("after the pause: %v", types(evs))
	}
}

func TestExploitedOpensIncident(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	ctx := context.Background()
	v := h.create(vuln.NewVuln{Vector: vecCritical})
	h.newEvents()
	v, err := h.svc.MarkExploited(ctx, v.Key(), vuln.ExploitedRequest{Note: "seen in WAF logs"}, alice)
	if err != nil {
		t.Fatal(err)
	}
	evs := h.newEvents()
	if got := types(evs); !slices.Equal(got, []string{events.TypeVulnExploited, events.CmdIncidentDeclare}) {
		t.Fatalf("events %v", got)
	}
	var d events.DeclareIncident
	_ = evs[1].DecodeData(&d)
	if d.Severity != "SEV1" || d.Service != "checkout" || v.Incident != evs[1].ID || !v.Exploited {
		t.Errorf("declare %+v, vuln incident %q", d, v.Incident)
	}
	// Again: nothing new. A later breach links the same incident.
	if _, err := h.svc.MarkExploited(ctx, v.Key(), vuln.ExploitedRequest{}, alice); err != nil || len(h.newEvents()) != 0 {
		t.Errorf("second mark: %v", err)
	}
	h.clock.Set(t0.Add(4 * policy.Week))
	h.fire()
	evs = h.newEvents()
	if got := types(evs); !slices.Equal(got, []string{events.TypeVulnSLABreached}) {
		t.Errorf("breach of a linked vulnerability: %v", got)
	}
}
