package incident

import (
	"encoding/base64"
	"log/slog"
	"net/http"
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
	Notes          []NoteJSON `json:"notes,omitempty"`
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
	}
}

// ListJSON is a page of incidents.
type ListJSON struct {
	Items      []IncidentJSON `json:"items"`
	NextCursor string         `json:"next_cursor,omitempty"`
}

// CommandBody is the body of the acknowledge, resolve and notes endpoints.
type CommandBody struct {
	Note            string `json:"note"`
	ExpectedVersion int64  `json:"expected_version"`
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
	srv.Handle("POST /api/v1/incidents/{ref}/acknowledge", httpapi.ScopeIncidentsWrite, h.command(events.CmdIncidentAcknowledge))
	srv.Handle("POST /api/v1/incidents/{ref}/resolve", httpapi.ScopeIncidentsWrite, h.command(events.CmdIncidentResolve))
	srv.Handle("POST /api/v1/incidents/{ref}/notes", httpapi.ScopeIncidentsWrite, h.command(events.CmdIncidentAddNote))
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
	f := ListFilter{Limit: DefaultPageSize, Service: q.Get("service")}
	if v := q.Get("status"); v != "" {
		for _, st := range strings.Split(v, ",") {
			st := Status(strings.TrimSpace(st))
			if !st.Valid() {
				return f, fault.Field("status", "unknown status %q (want triggered, acknowledged or resolved)", st)
			}
			f.Statuses = append(f.Statuses, st)
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxPageSize {
			return f, fault.Field("limit", "must be an integer from 1 to %d", MaxPageSize)
		}
		f.Limit = n
	}
	if v := q.Get("cursor"); v != "" {
		n, err := decodeCursor(v)
		if err != nil {
			return f, fault.Field("cursor", "not a cursor this server issued")
		}
		f.AfterNumber = n
	}
	return f, nil
}

func encodeCursor(n int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte("n:" + strconv.FormatInt(n, 10)))
}

func decodeCursor(s string) (int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return 0, err
	}
	v, ok := strings.CutPrefix(string(b), "n:")
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
	notes, err := h.svc.Notes(r.Context(), inc.ID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := ToJSON(inc)
	for _, n := range notes {
		out.Notes = append(out.Notes, NoteJSON{ID: n.ID, Text: n.Text, Author: n.Author, CreatedAt: n.CreatedAt})
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
}

func (h *handler) command(typ string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := httpapi.ReadBody(w, r, httpapi.MaxBody)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		var b CommandBody
		if strings.TrimSpace(string(body)) != "" {
			if err := httpapi.DecodeJSON(body, &b); err != nil {
				h.fail(w, r, err)
				return
			}
		}
		data := events.IncidentCommand{Incident: r.PathValue("ref"), Note: b.Note, ExpectedVersion: b.ExpectedVersion}
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
