package slack

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/firebreak-dev/firebreak/events"
)

// verbCommands maps slash-command verbs to the command they issue.
var verbCommands = map[string]string{
	VerbAck: events.CmdIncidentAcknowledge, VerbEscalate: events.CmdIncidentEscalate,
	VerbContain: events.CmdIncidentContain, VerbMitigate: events.CmdIncidentMitigate,
	VerbResolve: events.CmdIncidentResolve, VerbSev: events.CmdIncidentSeverity,
	VerbAssign: events.CmdIncidentAssign, VerbNote: events.CmdIncidentAddNote,
	VerbPage: events.CmdIncidentResponder,
}

// DefaultDeclareService is the service of incidents declared in Slack
// without service:<name>.
const DefaultDeclareService = "slack"

// HandleCommand answers the text of /incident typed by req.UserID in
// req.ChannelID. What can be answered from the projection is answered at
// once; commands are accepted and issued in the background, and anything
// that goes wrong then is told to the user ephemerally.
func (s *Service) HandleCommand(ctx context.Context, req Request, text string) Reply {
	c, err := ParseCommand(text)
	if err != nil {
		return Reply{Text: ":warning: " + err.Error()}
	}
	switch c.Verb {
	case VerbHelp:
		return Reply{Text: Help()}
	case VerbLink:
		s.enqueue(func(ctx context.Context) { s.tell(ctx, req, s.relink(ctx, req)) })
		return Reply{Text: "Looking you up…"}
	case VerbOnCall:
		return Reply{Text: s.onCall(ctx, c.Text)}
	case VerbDeclare:
		s.enqueue(func(ctx context.Context) { s.declare(ctx, req, c) })
		return Reply{Text: fmt.Sprintf("Declaring %q (%s)…", c.Text, c.Severity)}
	}
	inc, err := s.resolveIncident(ctx, req, c)
	if err != nil {
		return Reply{Text: ":warning: " + err.Error()}
	}
	switch c.Verb {
	case VerbStatus:
		return Reply{Text: Status(inc)}
	case VerbTimeline:
		return Reply{Text: fmt.Sprintf("Timeline of %s: %s", inc.Key(), TimelineURL(s.cfg.BaseURL, inc.Key()))}
	}
	s.enqueue(func(ctx context.Context) { s.act(ctx, req, c, inc) })
	return Reply{Text: fmt.Sprintf("On it: %s %s…", c.Verb, inc.Key())}
}

// resolveIncident finds the incident a command is about: the one named,
// else the one whose channel the command was typed in.
func (s *Service) resolveIncident(ctx context.Context, req Request, c Command) (Incident, error) {
	if c.Incident == "" {
		inc, err := s.store.IncidentByChannel(ctx, req.ChannelID)
		if IsNotFound(err) {
			return Incident{}, &CommandError{Problem: "this is not an incident channel; name the incident", Usage: usageOf(c.Verb)}
		}
		return inc, err
	}
	var n int64
	_, _ = fmt.Sscanf(c.Incident, "INC-%d", &n)
	inc, err := s.store.IncidentByNumber(ctx, n)
	if IsNotFound(err) {
		return Incident{}, &CommandError{Problem: fmt.Sprintf("firebreak knows no %s", c.Incident)}
	}
	return inc, err
}

// Status is the /incident status answer.
func Status(inc Incident) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*%s: %s*\n%s · %s · service %s · %d alert(s) · assignee %s", inc.Key(), escape(inc.Title),
		inc.Severity, statusLabel(inc.Status), escape(inc.Service), inc.AlertCount, escape(or(inc.Assignee, "unassigned")))
	if inc.AcknowledgedBy != "" {
		fmt.Fprintf(&b, "\nAcknowledged by %s", escape(inc.AcknowledgedBy))
	}
	if inc.ResolvedBy != "" {
		fmt.Fprintf(&b, "\nResolved by %s", escape(inc.ResolvedBy))
	}
	return b.String()
}

// act issues the command a verb stands for, as the Slack user.
func (s *Service) act(ctx context.Context, req Request, c Command, inc Incident) {
	actor, err := s.identify(ctx, req.UserID)
	if err != nil {
		s.tell(ctx, req, s.identityProblem(err))
		return
	}
	data := events.IncidentCommand{Incident: inc.ID}
	switch c.Verb {
	case VerbAck, VerbEscalate, VerbResolve, VerbNote:
		data.Note = c.Text
	case VerbContain, VerbMitigate:
		data.Action = c.Text
	case VerbSev:
		data.Severity = c.Severity
	case VerbAssign, VerbPage:
		user, err := s.person(ctx, c)
		if err != nil {
			s.tell(ctx, req, ":warning: "+err.Error())
			return
		}
		data.User = user
	}
	if err := s.issue(ctx, req, actor, verbCommands[c.Verb], inc.ID, data); err != nil {
		s.log.Error("slack: issue command", "verb", c.Verb, "err", err)
		s.tell(ctx, req, ":warning: firebreak could not take that command right now; please try again.")
	}
}

// person is the firebreak user an assign or page names: a mentioned Slack
// user (linked as on their own first interaction), a firebreak user id,
// or whoever is on call on a schedule (page).
func (s *Service) person(ctx context.Context, c Command) (string, error) {
	switch {
	case c.SlackUser:
		a, err := s.identify(ctx, c.User)
		if err != nil {
			var ie *identityError
			if errors.As(err, &ie) {
				return "", fmt.Errorf("<@%s> is not a firebreak user yet (%v); ask an admin to add them", c.User, ie.err)
			}
			return "", err
		}
		return a.ID, nil
	case c.User != "":
		return c.User, nil
	}
	if s.dir == nil {
		return "", fmt.Errorf("paging a schedule needs the escalation service in this process; page a person with @name")
	}
	user, found, err := s.dir.OnCall(ctx, c.Text)
	switch {
	case err != nil:
		return "", fmt.Errorf("who is on call on %s: %v", c.Text, err)
	case !found:
		return "", fmt.Errorf("nobody is on call on %s right now", c.Text)
	}
	return user, nil
}

// onCall answers /incident oncall [schedule].
func (s *Service) onCall(ctx context.Context, schedule string) string {
	if s.dir == nil {
		return ":warning: on-call lookup needs the escalation service in this process."
	}
	if schedule == "" {
		return ":warning: name a schedule. Usage: `/incident " + usageOf(VerbOnCall) + "`"
	}
	user, found, err := s.dir.OnCall(ctx, schedule)
	switch {
	case err != nil:
		return fmt.Sprintf(":warning: %s: %v", schedule, err)
	case !found:
		return fmt.Sprintf("Nobody is on call on %s right now.", schedule)
	}
	if u, err := s.store.UserByFirebreakID(ctx, user); err == nil {
		return fmt.Sprintf("On call on %s: <@%s> (%s)", schedule, u.SlackUserID, user)
	}
	return fmt.Sprintf("On call on %s: %s", schedule, user)
}

// declare issues incident.declare for a Slack user.
func (s *Service) declare(ctx context.Context, req Request, c Command) {
	actor, err := s.identify(ctx, req.UserID)
	if err != nil {
		s.tell(ctx, req, s.identityProblem(err))
		return
	}
	d := events.DeclareIncident{Title: c.Text, Service: c.Service, Severity: c.Severity}
	if d.Service == "" {
		d.Service = DefaultDeclareService
	}
	if err := s.issue(ctx, req, actor, events.CmdIncidentDeclare, d.Service, d); err != nil {
		s.log.Error("slack: declare", "err", err)
		s.tell(ctx, req, ":warning: firebreak could not declare the incident right now; please try again.")
	}
}

// relink links a Slack user again by the email of their profile (after an
// admin added them) and says who they are now.
func (s *Service) relink(ctx context.Context, req Request) string {
	u, err := s.link(ctx, req.UserID)
	if err != nil {
		return s.identityProblem(err)
	}
	return fmt.Sprintf(":white_check_mark: You are %s in firebreak.", u.FirebreakID)
}
