package escalation

import (
	"bytes"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/firebreak-dev/firebreak/internal/fault"
	"github.com/firebreak-dev/firebreak/internal/httpapi"
	"github.com/firebreak-dev/firebreak/services/escalation/schedule"
)

// MaxConfigBody limits the body of POST /api/v1/config (a whole
// organisation's paging configuration).
const MaxConfigBody = 4 << 20

// MaxShiftRange is the longest range GET …/shifts renders.
const MaxShiftRange = 400 * 24 * time.Hour

// Calendar feeds cover this much before and after now.
const (
	feedPast   = 30 * 24 * time.Hour
	feedFuture = 180 * 24 * time.Hour
)

// ChangeJSON is one change of an apply, as the API shows it.
type ChangeJSON struct {
	Kind   string   `json:"kind"`
	Name   string   `json:"name"`
	Op     string   `json:"op"`
	Fields []string `json:"fields,omitempty"`
}

// ApplyJSON answers POST /api/v1/config.
type ApplyJSON struct {
	// Applied is false for a dry run.
	Applied bool         `json:"applied"`
	Changes []ChangeJSON `json:"changes"`
}

// ShiftJSON is a stretch of on-call time as the API shows it; User is ""
// for a gap.
type ShiftJSON struct {
	User  string    `json:"user"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Source is "layer <i>", "override <id>" or "none".
	Source string `json:"source"`
}

// ShiftsJSON answers GET /api/v1/schedules/{name}/shifts.
type ShiftsJSON struct {
	Schedule string      `json:"schedule"`
	From     time.Time   `json:"from"`
	To       time.Time   `json:"to"`
	Shifts   []ShiftJSON `json:"shifts"`
}

func shiftJSON(s schedule.Shift) ShiftJSON {
	return ShiftJSON{User: s.User, Start: s.Start, End: s.End, Source: s.Source.String()}
}

// Routes mounts the escalation API on srv.
func (s *Service) Routes(srv *httpapi.Server, logger *slog.Logger) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h := &handler{svc: s, log: logger}
	srv.Handle("POST /api/v1/config", httpapi.ScopeConfigWrite, h.apply)
	srv.Handle("GET /api/v1/config", httpapi.ScopeConfigWrite, h.config)
	srv.Handle("GET /api/v1/schedules/{name}/oncall", httpapi.ScopeIncidentsRead, h.oncall)
	srv.Handle("GET /api/v1/schedules/{name}/shifts", httpapi.ScopeIncidentsRead, h.shifts)
	// ServeMux wildcards are whole segments: {file} is "<name>.ics".
	srv.Handle("GET /api/v1/schedules/{file}", httpapi.ScopeIncidentsRead, h.scheduleICS)
	srv.Handle("GET /api/v1/users/{id}/oncall.ics", httpapi.ScopeIncidentsRead, h.userICS)
}

type handler struct {
	svc *Service
	log *slog.Logger
}

func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	httpapi.WriteError(w, r, h.log, err)
}

func (h *handler) apply(w http.ResponseWriter, r *http.Request) {
	dryRun := false
	if v := r.URL.Query().Get("dry_run"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			h.fail(w, r, fault.Field("dry_run", "must be true or false"))
			return
		}
		dryRun = b
	}
	var c Config
	if err := httpapi.ReadJSON(w, r, MaxConfigBody, &c); err != nil {
		h.fail(w, r, err)
		return
	}
	changes, err := h.svc.ApplyConfig(r.Context(), c, httpapi.ActorOf(r), dryRun)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := ApplyJSON{Applied: !dryRun, Changes: make([]ChangeJSON, 0, len(changes))}
	for _, ch := range changes {
		out.Changes = append(out.Changes, ChangeJSON(ch))
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
}

func (h *handler) config(w http.ResponseWriter, r *http.Request) {
	c, err := h.svc.Config(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, c)
}

// timeParam parses an RFC 3339 query parameter, def when it is absent.
func timeParam(r *http.Request, name string, def time.Time) (time.Time, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, fault.Field(name, "must be an RFC 3339 time such as 2026-03-02T09:00:00Z, got %q", v)
	}
	return t, nil
}

func (h *handler) oncall(w http.ResponseWriter, r *http.Request) {
	at, err := timeParam(r, "at", h.svc.now())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	sh, _, err := h.svc.OnCall(r.Context(), r.PathValue("name"), at)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, shiftJSON(sh))
}

func (h *handler) shifts(w http.ResponseWriter, r *http.Request) {
	now := h.svc.now()
	from, err := timeParam(r, "from", now)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	to, err := timeParam(r, "to", from.Add(7*24*time.Hour))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	switch {
	case !to.After(from):
		h.fail(w, r, fault.Field("to", "must be after from"))
		return
	case to.Sub(from) > MaxShiftRange:
		h.fail(w, r, fault.Field("to", "the range may span at most %d days", int(MaxShiftRange/(24*time.Hour))))
		return
	}
	shifts, err := h.svc.Render(r.Context(), r.PathValue("name"), from, to)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := ShiftsJSON{Schedule: r.PathValue("name"), From: from, To: to, Shifts: make([]ShiftJSON, 0, len(shifts))}
	for _, s := range shifts {
		out.Shifts = append(out.Shifts, shiftJSON(s))
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
}

// feedRange is the range calendar feeds cover: from the start of the day a
// month ago, so the first shift is clipped the same way all day long.
func (h *handler) feedRange() (from, to, now time.Time) {
	now = h.svc.now().UTC()
	from = now.Add(-feedPast).Truncate(24 * time.Hour)
	return from, from.Add(feedPast + feedFuture), now
}

func writeICS(w http.ResponseWriter, b []byte) {
	w.Header().Set("Content-Type", "text/calendar; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

func (h *handler) scheduleICS(w http.ResponseWriter, r *http.Request) {
	name, ok := strings.CutSuffix(r.PathValue("file"), ".ics")
	if !ok || name == "" {
		h.fail(w, r, &fault.Error{Kind: fault.NotFound, Code: "no_route", Message: "no such endpoint: " + r.URL.Path})
		return
	}
	from, to, now := h.feedRange()
	shifts, err := h.svc.Render(r.Context(), name, from, to)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeICS(w, schedule.ICS("On call: "+name, shifts, "firebreak-"+name+"-", now))
}

func (h *handler) userICS(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	cfg, err := h.svc.Config(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if _, ok := findUser(cfg, id); !ok {
		h.fail(w, r, fault.Wrap(ErrNotFound, "user %q not found", id))
		return
	}
	from, to, now := h.feedRange()
	// One feed per schedule, each with its own UID prefix so shifts of two
	// schedules never share a UID, spliced into one calendar.
	const end = "END:VCALENDAR\r\n"
	cal := schedule.ICS("On call: "+id, nil, "", now)
	out := append([]byte(nil), cal[:len(cal)-len(end)]...)
	for _, sc := range cfg.Schedules {
		c, err := schedule.Compile(sc)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		feed := schedule.ICS(sc.Name, schedule.ForUser(c.Render(from, to), id), "firebreak-"+sc.Name+"-", now)
		if i := bytes.Index(feed, []byte("BEGIN:VEVENT\r\n")); i >= 0 {
			out = append(out, feed[i:len(feed)-len(end)]...)
		}
	}
	writeICS(w, append(out, end...))
}
