package incident_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/fault"
	"github.com/firebreak-dev/firebreak/services/incident"
)

func cmdWith(typ, ref string, f func(c *events.IncidentCommand)) events.Envelope {
	c := events.IncidentCommand{Incident: ref}
	if f != nil {
		f(&c)
	}
	return events.MustNew(typ, "api", ref, events.Actor{Kind: events.ActorUser, ID: "alice", Channel: events.ChannelCLI}, c)
}

func declareCmd(d events.DeclareIncident) events.Envelope {
	return events.MustNew(events.CmdIncidentDeclare, "api", d.Service, events.Actor{Kind: events.ActorUser, ID: "bob", Channel: events.ChannelAPI}, d)
}

// TestLifecycle walks an incident through every state of DESIGN.md's
// lifecycle, with the close gate of a SEV1.
func TestLifecycle(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e engine) {
		h := newHarness(t, e, true)
		ctx := context.Background()
		decl := declareCmd(events.DeclareIncident{Title: "Checkout down", Service: "checkout", Severity: "SEV1", Summary: "500s everywhere"})
		inc, err := h.svc.Execute(ctx, decl, false)
		if err != nil || inc.Origin != incident.OriginDeclared || inc.Status != incident.StatusTriggered || inc.Number != 1 || inc.Summary != "500s everywhere" {
			t.Fatalf("declare: %+v %v", inc, err)
		}
		// the same declare redelivered creates nothing new
		again, err := h.svc.Execute(ctx, decl, true)
		if err != nil || again.ID != inc.ID {
			t.Fatalf("redelivered declare: %+v %v", again, err)
		}
		steps := []struct {
			typ  string
			f    func(c *events.IncidentCommand)
			want incident.Status
		}{
			{events.CmdIncidentEscalate, nil, incident.StatusEscalated},
			{events.CmdIncidentEscalate, nil, incident.StatusEscalated},
			{events.CmdIncidentAcknowledge, nil, incident.StatusAcknowledged},
			{events.CmdIncidentSnooze, func(c *events.IncidentCommand) { c.Minutes = 15 }, incident.StatusAcknowledged},
			{events.CmdIncidentAssign, func(c *events.IncidentCommand) { c.User = "carol" }, incident.StatusAcknowledged},
			{events.CmdIncidentResponder, func(c *events.IncidentCommand) { c.User = "dave" }, incident.StatusAcknowledged},
			{events.CmdIncidentSeverity, func(c *events.IncidentCommand) { c.Severity = "SEV2"; c.Note = "one region only" }, incident.StatusAcknowledged},
			{events.CmdIncidentContain, func(c *events.IncidentCommand) { c.Action = "drained eu-west-1" }, incident.StatusContained},
			{events.CmdIncidentContain, func(c *events.IncidentCommand) { c.Action = "blocked bad client" }, incident.StatusContained},
			{events.CmdIncidentMitigate, func(c *events.IncidentCommand) { c.Action = "rolled back deploy 118" }, incident.StatusMitigated},
			{events.CmdIncidentResolve, nil, incident.StatusResolved},
			{events.CmdIncidentPostmortem, nil, incident.StatusPostmortem},
		}
		for _, st := range steps {
			inc, err = h.svc.Execute(ctx, cmdWith(st.typ, "INC-1", st.f), false)
			if err != nil || inc.Status != st.want {
				t.Fatalf("%s: %+v %v", st.typ, inc, err)
			}
		}
		if inc.EscalationLevel != 2 || inc.Assignee != "carol" || inc.Severity != "SEV2" || inc.SnoozedUntil != nil ||
			inc.ContainedAt == nil || inc.MitigatedAt == nil || inc.ResolvedAt == nil {
			t.Fatalf("after the walk: %+v", inc)
		}
		// SEV2 needs a published post-mortem before closing.
		_, err = h.svc.Execute(ctx, cmdWith(events.CmdIncidentClose, "INC-1", nil), false)
		if !errors.Is(err, incident.ErrPostmortemRequired) || fault.KindOf(err) != fault.Conflict {
			t.Fatalf("close before post-mortem: %v", err)
		}
		pub := events.MustNew(events.TypePostmortemPublished, "postmortem", inc.ID, events.System("postmortem"),
			events.PostmortemPublished{IncidentID: inc.ID, PostmortemID: "pm-1"})
		for range 2 {
			if err := h.svc.HandlePostmortemPublished(ctx, pub); err != nil {
				t.Fatal(err)
			}
		}
		inc, err = h.svc.Execute(ctx, cmdWith(events.CmdIncidentClose, "INC-1", nil), false)
		if err != nil || inc.Status != incident.StatusClosed || inc.ClosedAt == nil || inc.PostmortemPublishedAt == nil {
			t.Fatalf("close: %+v %v", inc, err)
		}
		// Nothing but notes changes a closed incident.
		if _, err = h.svc.Execute(ctx, cmdWith(events.CmdIncidentReopen, "INC-1", nil), false); !errors.Is(err, incident.ErrIllegalTransition) {
			t.Fatalf("reopen closed: %v", err)
		}
		if _, err = h.svc.Execute(ctx, cmdWith(events.CmdIncidentAddNote, "INC-1", func(c *events.IncidentCommand) { c.Note = "lessons" }), false); err != nil {
			t.Fatal(err)
		}
		actions, err := h.svc.Actions(ctx, inc.ID)
		if err != nil || len(actions) != 3 || actions[0].Kind != incident.ActionContainment || actions[2].Text != "rolled back deploy 118" || actions[2].Actor.ID != "alice" {
			t.Fatalf("actions: %+v %v", actions, err)
		}
		responders, err := h.svc.Responders(ctx, inc.ID)
		if err != nil || len(responders) != 3 { // bob (declarer), carol (assignee), dave
			t.Fatalf("responders: %+v %v", responders, err)
		}
		h.types(t) // every emitted event matches its schema
	})
}

// TestIllegalTransitions: each refusal says why and what to do.
func TestIllegalTransitions(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e engine) {
		h := newHarness(t, e, true)
		ctx := context.Background()
		if err := h.svc.HandleAlert(ctx, alert(events.ActionTrigger, "k")); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			typ  string
			f    func(c *events.IncidentCommand)
			code string
			msg  string
		}{
			{events.CmdIncidentContain, func(c *events.IncidentCommand) { c.Action = "x" }, "illegal_transition", "acknowledge it first"},
			{events.CmdIncidentMitigate, func(c *events.IncidentCommand) { c.Action = "x" }, "illegal_transition", "acknowledge it first"},
			{events.CmdIncidentSnooze, func(c *events.IncidentCommand) { c.Minutes = 5 }, "illegal_transition", "only an acknowledged incident"},
			{events.CmdIncidentClose, nil, "illegal_transition", "resolve it first"},
			{events.CmdIncidentReopen, nil, "illegal_transition", "only a resolved incident can be reopened"},
			{events.CmdIncidentPostmortem, nil, "illegal_transition", "cannot become postmortem"},
			{events.CmdIncidentSeverity, func(c *events.IncidentCommand) { c.Severity = "SEV2" }, "illegal_transition", "already SEV2"},
			{events.CmdIncidentMerge, func(c *events.IncidentCommand) { c.Into = "INC-1" }, "illegal_transition", "into itself"},
			{events.CmdIncidentMerge, func(c *events.IncidentCommand) { c.Into = "INC-9" }, "incident_not_found", "not found"},
		}
		for _, tt := range tests {
			t.Run(tt.typ+"/"+tt.code, func(t *testing.T) {
				_, err := h.svc.Execute(ctx, cmdWith(tt.typ, "INC-1", tt.f), false)
				var rej *incident.Rejection
				if !errors.As(err, &rej) || rej.Code != tt.code || !strings.Contains(err.Error(), tt.msg) {
					t.Fatalf("got %v, want %s containing %q", err, tt.code, tt.msg)
				}
			})
		}
		inc, _ := h.svc.Get(ctx, "INC-1")
		if inc.Version != 1 || inc.Status != incident.StatusTriggered {
			t.Fatalf("refusals changed the incident: %+v", inc)
		}
	})
}

func TestValidateCommand(t *testing.T) {
	t.Parallel()
	tests := []struct {
		typ   string
		f     func(c *events.IncidentCommand)
		field string
	}{
		{events.CmdIncidentContain, nil, "action"},
		{events.CmdIncidentMitigate, func(c *events.IncidentCommand) { c.Action = "  " }, "action"},
		{events.CmdIncidentAssign, nil, "user"},
		{events.CmdIncidentResponder, func(c *events.IncidentCommand) { c.User = strings.Repeat("u", 101) }, "user"},
		{events.CmdIncidentSeverity, func(c *events.IncidentCommand) { c.Severity = "SEV5" }, "severity"},
		{events.CmdIncidentSnooze, nil, "minutes"},
		{events.CmdIncidentSnooze, func(c *events.IncidentCommand) { c.Minutes = 10081 }, "minutes"},
		{events.CmdIncidentMerge, nil, "into"},
		{events.CmdIncidentEscalate, func(c *events.IncidentCommand) { c.Level = -1 }, "level"},
		{events.CmdIncidentAddNote, nil, "note"},
		{events.CmdIncidentResolve, func(c *events.IncidentCommand) { c.Incident = "" }, "incident"},
	}
	for _, tt := range tests {
		c := events.IncidentCommand{Incident: "INC-1"}
		if tt.f != nil {
			tt.f(&c)
		}
		err := incident.ValidateCommand(tt.typ, c)
		if fault.DetailsOf(err)["field"] != tt.field {
			t.Errorf("%s %+v: got %v, want field %s", tt.typ, c, err, tt.field)
		}
	}
	for _, d := range []struct {
		d     events.DeclareIncident
		field string
	}{
		{events.DeclareIncident{Service: "s", Severity: "SEV1"}, "title"},
		{events.DeclareIncident{Title: "t", Severity: "SEV1"}, "service"},
		{events.DeclareIncident{Title: "t", Service: "a b", Severity: "SEV1"}, "service"},
		{events.DeclareIncident{Title: "t", Service: "s", Severity: "critical"}, "severity"},
	} {
		if got := fault.DetailsOf(incident.ValidateDeclare(d.d))["field"]; got != d.field {
			t.Errorf("declare %+v: field %v, want %s", d.d, got, d.field)
		}
	}
}

// TestReopenAndMerge covers the reopen window and merging.
func TestReopenAndMerge(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e engine) {
		h := newHarness(t, e, true)
		ctx := context.Background()
		for _, k := range []string{"a", "a", "b", "c"} {
			if err := h.svc.HandleAlert(ctx, alert(events.ActionTrigger, k)); err != nil {
				t.Fatal(err)
			}
		}
		// INC-1 (a, 2 alerts) merges into INC-2 (b)
		child, err := h.svc.Execute(ctx, cmdWith(events.CmdIncidentMerge, "INC-1", func(c *events.IncidentCommand) { c.Into = "INC-2" }), false)
		if err != nil || child.Status != incident.StatusResolved || child.MergedInto == "" || child.AlertCount != 0 {
			t.Fatalf("merge: %+v %v", child, err)
		}
		parent, _ := h.svc.Get(ctx, "INC-2")
		if parent.AlertCount != 3 || parent.ID != child.MergedInto {
			t.Fatalf("parent after merge: %+v", parent)
		}
		if _, err := h.svc.Execute(ctx, cmdWith(events.CmdIncidentReopen, "INC-1", nil), false); !errors.Is(err, incident.ErrIllegalTransition) {
			t.Fatalf("reopen merged: %v", err)
		}
		// INC-3 resolved then reopened within the window
		if _, err := h.svc.Execute(ctx, cmdWith(events.CmdIncidentResolve, "INC-3", nil), false); err != nil {
			t.Fatal(err)
		}
		inc, err := h.svc.Execute(ctx, cmdWith(events.CmdIncidentReopen, "INC-3", func(c *events.IncidentCommand) { c.Note = "back" }), false)
		if err != nil || inc.Status != incident.StatusTriggered || inc.ReopenCount != 1 || inc.ResolvedAt != nil {
			t.Fatalf("reopen: %+v %v", inc, err)
		}
		// resolve again, a new alert opens INC-4 for the same key: INC-3 can no longer reopen
		if _, err := h.svc.Execute(ctx, cmdWith(events.CmdIncidentResolve, "INC-3", nil), false); err != nil {
			t.Fatal(err)
		}
		if err := h.svc.HandleAlert(ctx, alert(events.ActionTrigger, "c")); err != nil {
			t.Fatal(err)
		}
		_, err = h.svc.Execute(ctx, cmdWith(events.CmdIncidentReopen, "INC-3", nil), false)
		if !errors.Is(err, incident.ErrIllegalTransition) || !strings.Contains(err.Error(), "INC-4 is already open") {
			t.Fatalf("reopen with INC-4 open: %v", err)
		}
		// past the window
		if _, err := h.svc.Execute(ctx, cmdWith(events.CmdIncidentResolve, "INC-4", nil), false); err != nil {
			t.Fatal(err)
		}
		h.clock.mu.Lock()
		h.clock.t = h.clock.t.Add(25 * time.Hour)
		h.clock.mu.Unlock()
		_, err = h.svc.Execute(ctx, cmdWith(events.CmdIncidentReopen, "INC-4", nil), false)
		if !errors.Is(err, incident.ErrReopenWindow) {
			t.Fatalf("reopen after window: %v", err)
		}
		h.types(t)
	})
}

// TestEscalateOnlyUnacknowledged: the escalation service's step timer can
// race an acknowledgement; its escalate command then changes nothing.
func TestEscalateOnlyUnacknowledged(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e engine) {
		h := newHarness(t, e, true)
		ctx := context.Background()
		if err := h.svc.HandleAlert(ctx, alert(events.ActionTrigger, "k")); err != nil {
			t.Fatal(err)
		}
		auto := func(c *events.IncidentCommand) { c.OnlyUnacknowledged = true; c.Level = 2 }
		if inc, err := h.svc.Execute(ctx, cmdWith(events.CmdIncidentEscalate, "INC-1", auto), true); err != nil || inc.EscalationLevel != 2 {
			t.Fatalf("escalate a triggered incident: %+v %v", inc, err)
		}
		if _, err := h.svc.Execute(ctx, cmdWith(events.CmdIncidentAcknowledge, "INC-1", nil), false); err != nil {
			t.Fatal(err)
		}
		if _, err := h.svc.Execute(ctx, cmdWith(events.CmdIncidentEscalate, "INC-1", auto), true); !errors.Is(err, incident.ErrIllegalTransition) {
			t.Fatalf("automatic escalate after ack: %v", err)
		}
		if inc, _ := h.svc.Get(ctx, "INC-1"); inc.Status != incident.StatusAcknowledged {
			t.Fatalf("the ack was undone: %+v", inc)
		}
		// a person may still escalate an acknowledged incident
		if inc, err := h.svc.Execute(ctx, cmdWith(events.CmdIncidentEscalate, "INC-1", nil), false); err != nil || inc.Status != incident.StatusEscalated {
			t.Fatalf("manual escalate: %+v %v", inc, err)
		}
	})
}
