package incident

import (
	"bytes"
	"encoding/base64"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/fault"
	"github.com/firebreak-dev/firebreak/internal/httpapi"
)

// IncidentJSON is an incident as the API shows it.
type IncidentJSON struct {
	ID             string     `json:"id"`
	Number         int64      `json:"number"`
	Key            string     `json:"key"`
	Service        string     `json:"service"`
	DedupKey       string     `json:"dedup_key"`
	Title          string     `json:"title"`
	Severity       string     `json:"severity"`
	AlertSeverity  string     `json:"alert_severity,omitempty"`
	Status         Status     `json:"status"`
	AlertCount     int64      `json:"alert_count"`
	Version        int64      `json:"version"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
	LastAlertAt    time.Time  `json:"last_alert_at"`
	AcknowledgedAt *time.Time `json:"acknowledged_at,omitempty"`
	AcknowledgedBy string     `json:"acknowledged_by,omitempty"`
	ResolvedAt     *time.Time `json:"resolved_at,omitempty"`
	ResolvedBy     string     `json:"resolved_by,omitempty"`

	Origin                string     `json:"origin"`
	Summary               string     `json:"summary,omitempty"`
	Assignee              string     `json:"assignee,omitempty"`
	EscalationLevel       int        `json:"escalation_level"`
	SnoozedUntil          *time.Time `json:"snoozed_until,omitempty"`
	MergedInto            string     `json:"merged_into,omitempty"`
	ContainedAt           *time.Time `json:"contained_at,omitempty"`
	MitigatedAt           *time.Time `json:"mitigated_at,omitempty"`
	ClosedAt              *time.Time `json:"closed_at,omitempty"`
	PostmortemPublishedAt *time.Time `json:"postmortem_published_at,omitempty"`
	ReopenCount           int        `json:"reopen_count,omitempty"`
	// GroupKey is set when the service's alert grouping rule applied to
	// the first alert: other alerts of the group join this incident.
	GroupKey string `json:"group_key,omitempty"`

	Notes      []NoteJSON      `json:"notes,omitempty"`
	Actions    []ActionJSON    `json:"actions,omitempty"`
	Responders []ResponderJSON `json:"responders,omitempty"`
	// Alerts counts the incident's alerts by status (GET
	// /api/v1/incidents/{ref}/alerts lists them); shown by the show route.
	Alerts *AlertStatsJSON `json:"alerts,omitempty"`
}

// ActionJSON is a containment or mitigation action as the API shows it.
type ActionJSON struct {
	ID        int64        `json:"id"`
	Kind      string       `json:"kind"`
	Text      string       `json:"text"`
	Actor     events.Actor `json:"actor"`
	CreatedAt time.Time    `json:"created_at"`
}

// ResponderJSON is a responder as the API shows it.
type ResponderJSON struct {
	User    string       `json:"user"`
	AddedBy events.Actor `json:"added_by"`
	AddedAt time.Time    `json:"added_at"`
}

// NoteJSON is a note as the API shows it.
type NoteJSON struct {
	ID        int64        `json:"id"`
	Text      string       `json:"text"`
	Author    events.Actor `json:"author"`
	CreatedAt time.Time    `json:"created_at"`
}

// ToJSON renders an incident for the API.
func ToJSON(i Incident) IncidentJSON {
	return IncidentJSON{
		ID: i.ID, Number: i.Number, Key: i.Key(), Service: i.Service, DedupKey: i.DedupKey, Title: i.Title,
		Severity: i.Severity, AlertSeverity: i.AlertSeverity, Status: i.Status, AlertCount: i.AlertCount,
		Version: i.Version, CreatedAt: i.CreatedAt, UpdatedAt: i.UpdatedAt, LastAlertAt: i.LastAlertAt,
		AcknowledgedAt: i.AcknowledgedAt, AcknowledgedBy: i.AcknowledgedBy, ResolvedAt: i.ResolvedAt, ResolvedBy: i.ResolvedBy,
		Origin: i.Origin, Summary: i.Summary, Assignee: i.Assignee, EscalationLevel: i.EscalationLevel,
		SnoozedUntil: i.SnoozedUntil, MergedInto: i.MergedInto, ContainedAt: i.ContainedAt, MitigatedAt: i.MitigatedAt,
		ClosedAt: i.ClosedAt, PostmortemPublishedAt: i.PostmortemPublishedAt, ReopenCount: i.ReopenCount,
		GroupKey: i.GroupKey,
	}
}

// ListJSON is a page of incidents.
type ListJSON struct {
	Items      []IncidentJSON `json:"items"`
	NextCursor string         `json:"next_cursor,omitempty"`
}

// CommandBody is the body of every POST /api/v1/incidents/{ref}/{action}
// endpoint; which fields an action needs is in the README's API table.
type CommandBody struct {
	Note            string `json:"note,omitempty"`
	ExpectedVersion int64  `json:"expected_version,omitempty"`
	Action          string `json:"action,omitempty"`
	User            string `json:"user,omitempty"`
	Severity        string `json:"severity,omitempty"`
	Minutes         int    `json:"minutes,omitempty"`
	Into            string `json:"into,omitempty"`
	Level           int    `json:"level,omitempty"`
}

// Actions maps the action segment of the URL to its command.
var Actions = map[string]string{
	"acknowledge": events.CmdIncidentAcknowledge,
	"escalate":    events.CmdIncidentEscalate,
	"contain":     events.CmdIncidentContain,
	"mitigate":    events.CmdIncidentMitigate,
	"resolve":     events.CmdIncidentResolve,
	"reopen":      events.CmdIncidentReopen,
	"postmortem":  events.CmdIncidentPostmortem,
	"close":       events.CmdIncidentClose,
	"snooze":      events.CmdIncidentSnooze,
	"assign":      events.CmdIncidentAssign,
	"severity":    events.CmdIncidentSeverity,
	"merge":       events.CmdIncidentMerge,
	"notes":       events.CmdIncidentAddNote,
	"responders":  events.CmdIncidentResponder,
}

// Page sizes of the list endpoint.
const (
	DefaultPageSize = 50
	MaxPageSize     = 200
)

// Routes mounts the incident API on srv.
func (s *Service) Routes(srv *httpapi.Server, logger *slog.Logger) {
	h := &handler{svc: s, log: logger}
	srv.Handle("GET /api/v1/incidents", httpapi.ScopeIncidentsRead, h.list)
	srv.Handle("GET /api/v1/incidents/{ref}", httpapi.ScopeIncidentsRead, h.show)
	srv.Handle("GET /api/v1/incidents/{ref}/alerts", httpapi.ScopeIncidentsRead, h.alerts)
	srv.Handle("POST /api/v1/incidents", httpapi.ScopeIncidentsWrite, h.declare)
	for action, typ := range Actions {
		srv.Handle("POST /api/v1/incidents/{ref}/"+action, httpapi.ScopeIncidentsWrite, h.command(typ))
	}
	s.heartbeatRoutes(srv, logger)
}

type handler struct {
	svc *Service
	log *slog.Logger
}

func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	httpapi.WriteError(w, r, h.log, err)
}

func (h *handler) list(w http.ResponseWriter, r *http.Request) {
	f, err := parseListQuery(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	items, err := h.svc.List(r.Context(), f)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := ListJSON{Items: make([]IncidentJSON, 0, len(items))}
	for _, i := range items {
		out.Items = append(out.Items, ToJSON(i))
	}
	if len(items) == f.Limit && f.Limit > 0 {
		out.NextCursor = encodeCursor(items[len(items)-1].Number)
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
}

func parseListQuery(r *http.Request) (ListFilter, error) {
	q := r.URL.Query()
	f := ListFilter{Limit: DefaultPageSize, Service: q.Get("service"), Assignee: q.Get("assignee")}
	if v := q.Get("status"); v != "" {
		for _, st := range strings.Split(v, ",") {
			st := Status(strings.TrimSpace(st))
			if st == "open" {
				f.Statuses = append(f.Statuses, OpenStatuses...)
				continue
			}
			if !st.Valid() {
				return f, fault.Field("status", "unknown status %q (want open or one of %v)", st, Statuses)
			}
			f.Statuses = append(f.Statuses, st)
		}
	}
	var err error
	f.Limit, f.AfterNumber, err = pageParams(q, f.Limit, "n")
	return f, err
}

// pageParams reads the limit and cursor of a list request; kind tells the
// cursors of different lists apart ("n" incidents by number, "a" an
// incident's alerts by sequence).
func pageParams(q url.Values, limit int, kind string) (int, int64, error) {
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxPageSize {
			return 0, 0, fault.Field("limit", "must be an integer from 1 to %d", MaxPageSize)
		}
		limit = n
	}
	var after int64
	if v := q.Get("cursor"); v != "" {
		n, err := decodePageCursor(kind, v)
		if err != nil {
			return 0, 0, fault.Field("cursor", "not a cursor this server issued")
		}
		after = n
	}
	return limit, after, nil
}

func encodeCursor(n int64) string { return encodePageCursor("n", n) }

func decodeCursor(s string) (int64, error) { return decodePageCursor("n", s) }

func encodePageCursor(kind string, n int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(kind + ":" + strconv.FormatInt(n, 10)))
}

func decodePageCursor(kind, s string) (int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return 0, err
	}
	v, ok := strings.CutPrefix(string(b), kind+":")
	if !ok {
		return 0, strconv.ErrSyntax
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 1 {
		return 0, strconv.ErrSyntax
	}
	return n, nil
}

func (h *handler) show(w http.ResponseWriter, r *http.Request) {
	inc, err := h.svc.Get(r.Context(), r.PathValue("ref"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out, err := h.detail(r, inc)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
}

// detail renders an incident with its notes, actions and responders.
func (h *handler) detail(r *http.Request, inc Incident) (IncidentJSON, error) {
	out := ToJSON(inc)
	notes, err := h.svc.Notes(r.Context(), inc.ID)
	if err != nil {
		return out, err
	}
	for _, n := range notes {
		out.Notes = append(out.Notes, NoteJSON{ID: n.ID, Text: n.Text, Author: n.Author, CreatedAt: n.CreatedAt})
	}
	actions, err := h.svc.Actions(r.Context(), inc.ID)
	if err != nil {
		return out, err
	}
	for _, a := range actions {
		out.Actions = append(out.Actions, ActionJSON{ID: a.ID, Kind: a.Kind, Text: a.Text, Actor: a.Actor, CreatedAt: a.CreatedAt})
	}
	responders, err := h.svc.Responders(r.Context(), inc.ID)
	if err != nil {
		return out, err
	}
	for _, p := range responders {
		out.Responders = append(out.Responders, ResponderJSON{User: p.User, AddedBy: p.AddedBy, AddedAt: p.AddedAt})
	}
	st, err := h.svc.AlertStatsOf(r.Context(), inc.ID)
	if err != nil {
		return out, err
	}
	stats := StatsToJSON(st, h.svc.MaxAlerts())
	out.Alerts = &stats
	return out, nil
}

func (h *handler) command(typ string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := httpapi.ReadBody(w, r, httpapi.MaxBody)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		var b CommandBody
		if len(bytes.TrimSpace(body)) > 0 {
			if err := httpapi.DecodeJSON(body, &b); err != nil {
				h.fail(w, r, err)
				return
			}
		}
		data := events.IncidentCommand{Incident: r.PathValue("ref"), Note: b.Note, ExpectedVersion: b.ExpectedVersion,
			Action: b.Action, User: b.User, Severity: b.Severity, Minutes: b.Minutes, Into: b.Into, Level: b.Level}
		if err := ValidateCommand(typ, data); err != nil {
			h.fail(w, r, err)
			return
		}
		cmd, err := events.New(typ, "api", data.Incident, httpapi.ActorOf(r), data,
			events.WithCorrelation(httpapi.RequestID(r.Context())))
		if err != nil {
			h.fail(w, r, err)
			return
		}
		inc, err := h.svc.Execute(r.Context(), cmd, false)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		httpapi.WriteJSON(w, http.StatusOK, ToJSON(inc))
	}
}

// DeclareBody is the body of POST /api/v1/incidents.
type DeclareBody = events.DeclareIncident

func (h *handler) declare(w http.ResponseWriter, r *http.Request) {
	var d DeclareBody
	if err := httpapi.ReadJSON(w, r, httpapi.MaxBody, &d); err != nil {
		h.fail(w, r, err)
		return
	}
	if err := ValidateDeclare(d); err != nil {
		h.fail(w, r, err)
		return
	}
	cmd, err := events.New(events.CmdIncidentDeclare, "api", d.Service, httpapi.ActorOf(r), d,
		events.WithCorrelation(httpapi.RequestID(r.Context())))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	inc, err := h.svc.Execute(r.Context(), cmd, false)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/incidents/"+inc.Key())
	httpapi.WriteJSON(w, http.StatusCreated, ToJSON(inc))
}
