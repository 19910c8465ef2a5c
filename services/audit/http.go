package audit

import (
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/firebreak-dev/firebreak/internal/fault"
	"github.com/firebreak-dev/firebreak/internal/httpapi"
)

// API page sizes.
const (
	DefaultListLimit = 100
	MaxListLimit     = 1000
)

// ListJSON answers GET /api/v1/audit.
type ListJSON struct {
	Items []Record `json:"items"`
	// NextCursor continues the listing ("" at the end).
	NextCursor string `json:"next_cursor,omitempty"`
}

// CheckpointsJSON answers GET /api/v1/audit/checkpoints.
type CheckpointsJSON struct {
	PublicKey string       `json:"public_key,omitempty"`
	Head      Head         `json:"head"`
	Items     []Checkpoint `json:"items"`
}

// ArchiveJSON answers POST /api/v1/audit/archive.
// With dry_run=true, Archived is how many records would go and nothing is
// deleted.
type ArchiveJSON struct {
	Archived int64       `json:"archived"`
	Anchor   *Checkpoint `json:"anchor,omitempty"`
}

// Routes mounts the audit API on srv. Reading needs audit:read; making a
// checkpoint or archiving needs admin.
func (s *Service) Routes(srv *httpapi.Server, logger *slog.Logger) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h := &handler{svc: s, log: logger}
	srv.Handle("GET /api/v1/audit", httpapi.ScopeAuditRead, h.list)
	srv.Handle("GET /api/v1/audit/verify", httpapi.ScopeAuditRead, h.verify)
	srv.Handle("GET /api/v1/audit/checkpoints", httpapi.ScopeAuditRead, h.checkpoints)
	srv.Handle("POST /api/v1/audit/checkpoints", httpapi.ScopeAdmin, h.checkpoint)
	srv.Handle("POST /api/v1/audit/archive", httpapi.ScopeAdmin, h.archive)
}

type handler struct {
	svc *Service
	log *slog.Logger
}

func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	httpapi.WriteError(w, r, h.log, err)
}

// ParseQuery validates a listing's query string; errors name the field.
// since and until take an RFC 3339 time or a duration back from now (30d,
// 12h, 90m: see ParseTimeBound).
func ParseQuery(q map[string][]string, now time.Time) (Filter, int64, error) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	var f Filter
	for _, t := range []struct {
		name string
		dst  *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		v := get(t.name)
		if v == "" {
			continue
		}
		at, err := ParseTimeBound(v, now)
		if err != nil {
			return Filter{}, 0, fault.Field(t.name, "%s", err.Error())
		}
		*t.dst = at
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Until.After(f.Since) {
		return Filter{}, 0, fault.Field("until", "must be after since")
	}
	f.Type, f.Actor, f.Incident = get("type"), get("actor"), get("incident")
	f.Limit = DefaultListLimit
	if v := get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxListLimit {
			return Filter{}, 0, fault.Field("limit", "must be a number from 1 to %d, got %q", MaxListLimit, v)
		}
		f.Limit = n
	}
	from := int64(1)
	if v := get("cursor"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return Filter{}, 0, fault.Field("cursor", "is not a cursor this API returned: %q", v)
		}
		from = n
	}
	return f, from, nil
}

func (h *handler) list(w http.ResponseWriter, r *http.Request) {
	f, from, err := ParseQuery(r.URL.Query(), h.svc.cfg.Now())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	recs, err := h.svc.store.Range(r.Context(), from, 0, f)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := ListJSON{Items: recs}
	if out.Items == nil {
		out.Items = []Record{}
	}
	if len(recs) == f.Limit {
		out.NextCursor = strconv.FormatInt(recs[len(recs)-1].Seq+1, 10)
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
}

func (h *handler) verify(w http.ResponseWriter, r *http.Request) {
	rep, err := h.svc.Verify(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, rep)
}

func (h *handler) checkpoints(w http.ResponseWriter, r *http.Request) {
	var from, to int64
	for _, p := range []struct {
		name string
		dst  *int64
	}{{"from", &from}, {"to", &to}} {
		if v := r.URL.Query().Get(p.name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				h.fail(w, r, fault.Field(p.name, "must be a record number, got %q", v))
				return
			}
			*p.dst = n
		}
	}
	head, err := h.svc.store.Head(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	cps, err := h.svc.store.Checkpoints(r.Context(), from, to)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if cps == nil {
		cps = []Checkpoint{}
	}
	httpapi.WriteJSON(w, http.StatusOK, CheckpointsJSON{PublicKey: h.svc.PublicKey(), Head: head, Items: cps})
}

func (h *handler) checkpoint(w http.ResponseWriter, r *http.Request) {
	c, err := h.svc.Checkpoint(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusCreated, c)
}

func (h *handler) archive(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var (
		c   Checkpoint
		n   int64
		err error
	)
	if v := q.Get("through"); v != "" {
		seq, perr := strconv.ParseInt(v, 10, 64)
		if perr != nil || seq < 1 {
			h.fail(w, r, fault.Field("through", "must be the seq of a checkpoint, got %q", v))
			return
		}
		c, n, err = h.svc.ArchiveThrough(r.Context(), seq)
		if fault.KindOf(err) == fault.Invalid {
			err = fault.Field("through", "%v", err)
		}
	} else {
		v := q.Get("before")
		before, perr := ParseTimeBound(v, h.svc.cfg.Now())
		if perr != nil {
			h.fail(w, r, fault.Field("before", "%s", perr.Error()))
			return
		}
		if q.Get("dry_run") == "true" {
			var hd Head
			if c, err = h.svc.ArchiveCut(r.Context(), before); err == nil && c.Seq > 0 {
				if hd, err = h.svc.store.Head(r.Context()); err == nil {
					n = c.Seq - hd.AnchorSeq
				}
			}
		} else {
			c, n, err = h.svc.Archive(r.Context(), before)
		}
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := ArchiveJSON{Archived: n}
	if c.Seq > 0 {
		out.Anchor = &c
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
}
