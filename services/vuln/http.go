package vuln

import (
	"encoding/xml"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/firebreak-dev/firebreak/internal/fault"
	"github.com/firebreak-dev/firebreak/internal/httpapi"
	"github.com/firebreak-dev/firebreak/services/vuln/scan"
)

// MaxImportBody limits a scanner report (a 10 000-finding Trivy report is
// about 15 MB).
const MaxImportBody = 64 << 20

// VulnJSON is a vulnerability as the authenticated API shows it, with its
// SLA clock read now.
type VulnJSON struct {
	Vuln
	Key string `json:"key"`
	SLA SLA    `json:"sla"`
}

// ListJSON answers GET /api/v1/vulnerabilities.
type ListJSON struct {
	Vulnerabilities []VulnJSON `json:"vulnerabilities"`
	// Next is the cursor of the next page ("" on the last).
	Next string `json:"next,omitempty"`
}

// DetailJSON answers GET /api/v1/vulnerabilities/{id}.
type DetailJSON struct {
	VulnJSON
	History []History `json:"history"`
	Notices []Notice  `json:"notices"`
}

func (s *Service) vulnJSON(v Vuln) VulnJSON {
	return VulnJSON{Vuln: v, Key: v.Key(), SLA: v.SLAAt(s.pol, s.now())}
}

// Routes mounts the vuln API and the public endpoints on srv.
func (s *Service) Routes(srv *httpapi.Server, logger *slog.Logger) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h := &handler{svc: s, log: logger}
	srv.Handle("PUT /api/v1/products/{name}", httpapi.ScopeVulnsWrite, h.putProduct)
	srv.Handle("GET /api/v1/products", httpapi.ScopeVulnsRead, h.products)
	srv.Handle("POST /api/v1/vulnerabilities", httpapi.ScopeVulnsWrite, h.create)
	srv.Handle("GET /api/v1/vulnerabilities", httpapi.ScopeVulnsRead, h.list)
	srv.Handle("GET /api/v1/vulnerabilities/report", httpapi.ScopeVulnsRead, h.report)
	srv.Handle("POST /api/v1/vulnerabilities/import", httpapi.ScopeVulnsWrite, h.importReport)
	srv.Handle("GET /api/v1/vulnerabilities/{ref}", httpapi.ScopeVulnsRead, h.show)
	srv.Handle("PATCH /api/v1/vulnerabilities/{ref}", httpapi.ScopeVulnsWrite, h.patch)
	srv.Handle("POST /api/v1/vulnerabilities/{ref}/transition", httpapi.ScopeVulnsWrite, h.transition)
	srv.Handle("POST /api/v1/vulnerabilities/{ref}/severity", httpapi.ScopeVulnsWrite, h.severity)
	srv.Handle("POST /api/v1/vulnerabilities/{ref}/exploited", httpapi.ScopeVulnsWrite, h.exploited)
	srv.Handle("POST /api/v1/vulnerabilities/{ref}/notices", httpapi.ScopeVulnsWrite, h.draftNotice)
	srv.Handle("GET /api/v1/vulnerabilities/{ref}/notices", httpapi.ScopeVulnsRead, h.notices)
	srv.Handle("POST /api/v1/notices/{id}/approve", httpapi.ScopeCommsApprove, h.approveNotice)
	// Public: no token. Each shows only published notices of public,
	// non-embargoed vulnerabilities, through Advisory.
	srv.HandlePublic("POST /api/v1/disclosures", http.HandlerFunc(h.disclose))
	srv.HandlePublic("GET /.well-known/security.txt", http.HandlerFunc(h.securityTxt))
	srv.HandlePublic("GET /api/v1/advisories", http.HandlerFunc(h.advisories))
	srv.HandlePublic("GET /api/v1/advisories.atom", http.HandlerFunc(h.atom))
	srv.HandlePublic("GET /advisories", http.HandlerFunc(h.html))
}

type handler struct {
	svc *Service
	log *slog.Logger
}

func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	httpapi.WriteError(w, r, h.log, err)
}

func (h *handler) putProduct(w http.ResponseWriter, r *http.Request) {
	var p Product
	if err := httpapi.ReadJSON(w, r, httpapi.MaxBody, &p); err != nil {
		h.fail(w, r, err)
		return
	}
	if p.Name != "" && p.Name != r.PathValue("name") {
		h.fail(w, r, fault.Field("name", "differs from the name in the path"))
		return
	}
	p.Name = r.PathValue("name")
	out, err := h.svc.PutProduct(r.Context(), p)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
}

func (h *handler) products(w http.ResponseWriter, r *http.Request) {
	ps, err := h.svc.store.ProductList(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"products": ps})
}

func (h *handler) create(w http.ResponseWriter, r *http.Request) {
	var n NewVuln
	if err := httpapi.ReadJSON(w, r, httpapi.MaxBody, &n); err != nil {
		h.fail(w, r, err)
		return
	}
	v, err := h.svc.Create(r.Context(), n, httpapi.ActorOf(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusCreated, h.svc.vulnJSON(v))
}

func (h *handler) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := Filter{Severity: q.Get("severity"), Product: q.Get("product")}
	if st := q.Get("status"); st != "" {
		s, ok := ParseStatus(st)
		if !ok {
			h.fail(w, r, fault.Field("status", "unknown status %q", st))
			return
		}
		f.Status = s
	}
	if f.Severity != "" {
		sev, err := parseSeverity(f.Severity)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		f.Severity = sev
	}
	var err error
	if f.Limit, err = intParam(q.Get("limit"), "limit", 100, 1, 1000); err != nil {
		h.fail(w, r, err)
		return
	}
	if c := q.Get("cursor"); c != "" {
		n, err := strconv.ParseInt(c, 10, 64)
		if err != nil || n < 0 {
			h.fail(w, r, fault.Field("cursor", "is not a cursor from a previous page"))
			return
		}
		f.After = n
	}
	vs, err := h.svc.List(r.Context(), f)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := ListJSON{Vulnerabilities: make([]VulnJSON, 0, len(vs))}
	for _, v := range vs {
		out.Vulnerabilities = append(out.Vulnerabilities, h.svc.vulnJSON(v))
	}
	if len(vs) == f.Limit {
		out.Next = strconv.FormatInt(vs[len(vs)-1].Number, 10)
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
}

func parseSeverity(s string) (string, error) {
	for _, v := range []string{"None", "Low", "Medium", "High", "Critical"} {
		if strings.EqualFold(v, s) {
			return v, nil
		}
	}
	return "", fault.Field("severity", "must be none, low, medium, high or critical, got %q", s)
}

func intParam(s, name string, def, min, max int) (int, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < min || n > max {
		return 0, fault.Field(name, "must be a whole number from %d to %d", min, max)
	}
	return n, nil
}

func (h *handler) show(w http.ResponseWriter, r *http.Request) {
	v, err := h.svc.Get(r.Context(), r.PathValue("ref"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	hist, err := h.svc.History(r.Context(), v.ID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ns, err := h.svc.store.NoticeList(r.Context(), v.ID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, DetailJSON{VulnJSON: h.svc.vulnJSON(v), History: hist, Notices: ns})
}

func (h *handler) patch(w http.ResponseWriter, r *http.Request) {
	var p Patch
	if err := httpapi.ReadJSON(w, r, httpapi.MaxBody, &p); err != nil {
		h.fail(w, r, err)
		return
	}
	v, err := h.svc.Update(r.Context(), r.PathValue("ref"), p, httpapi.ActorOf(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, h.svc.vulnJSON(v))
}

func (h *handler) transition(w http.ResponseWriter, r *http.Request) {
	var req TransitionRequest
	if err := httpapi.ReadJSON(w, r, httpapi.MaxBody, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	v, err := h.svc.Transition(r.Context(), r.PathValue("ref"), req, httpapi.ActorOf(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, h.svc.vulnJSON(v))
}

func (h *handler) severity(w http.ResponseWriter, r *http.Request) {
	var req SeverityRequest
	if err := httpapi.ReadJSON(w, r, httpapi.MaxBody, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	v, err := h.svc.SetSeverity(r.Context(), r.PathValue("ref"), req, httpapi.ActorOf(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, h.svc.vulnJSON(v))
}

func (h *handler) exploited(w http.ResponseWriter, r *http.Request) {
	var req ExploitedRequest
	if err := httpapi.ReadJSON(w, r, httpapi.MaxBody, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	v, err := h.svc.MarkExploited(r.Context(), r.PathValue("ref"), req, httpapi.ActorOf(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, h.svc.vulnJSON(v))
}

func (h *handler) importReport(w http.ResponseWriter, r *http.Request) {
	f, err := scan.ParseFormat(r.URL.Query().Get("format"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	b, err := httpapi.ReadBody(w, r, MaxImportBody)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	res, err := h.svc.Import(r.Context(), r.URL.Query().Get("product"), f, b, httpapi.ActorOf(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, res)
}

func (h *handler) report(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	to := h.svc.now()
	from := to.AddDate(0, 0, -30)
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"from", &from}, {"to", &to}} {
		if s := q.Get(p.name); s != "" {
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				if t, err = time.Parse(time.DateOnly, s); err != nil {
					h.fail(w, r, fault.Field(p.name, "must be an RFC 3339 time or a date (2026-11-28), got %q", s))
					return
				}
			}
			*p.dst = t
		}
	}
	if !from.Before(to) {
		h.fail(w, r, fault.Field("from", "must be before to"))
		return
	}
	rep, err := h.svc.Report(r.Context(), from, to)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, rep)
}

func (h *handler) draftNotice(w http.ResponseWriter, r *http.Request) {
	var d NoticeDraft
	if err := httpapi.ReadJSON(w, r, httpapi.MaxBody, &d); err != nil {
		h.fail(w, r, err)
		return
	}
	n, err := h.svc.DraftNotice(r.Context(), r.PathValue("ref"), d, httpapi.ActorOf(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusCreated, n)
}

func (h *handler) notices(w http.ResponseWriter, r *http.Request) {
	ns, err := h.svc.Notices(r.Context(), r.PathValue("ref"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"notices": ns})
}

func (h *handler) approveNotice(w http.ResponseWriter, r *http.Request) {
	n, err := h.svc.ApproveNotice(r.Context(), r.PathValue("id"), httpapi.ActorOf(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, n)
}

// clientAddr is the request's peer address. Forwarding headers are not
// trusted: anyone can send them.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (h *handler) disclose(w http.ResponseWriter, r *http.Request) {
	lim := h.svc.cfg.Disclosures
	if err := h.svc.AdmitDisclosure(clientAddr(r)); err != nil {
		w.Header().Set("Retry-After", strconv.Itoa(int(lim.Window/time.Second)))
		h.fail(w, r, err)
		return
	}
	b, err := httpapi.ReadBody(w, r, lim.MaxBody)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var d Disclosure
	if err := DecodeDisclosure(b, &d); err != nil {
		h.fail(w, r, err)
		return
	}
	rec, err := h.svc.Disclose(r.Context(), d)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusAccepted, rec)
}

// DecodeDisclosure strictly decodes a disclosure body (unknown fields,
// wrong types and trailing data are errors naming the field).
func DecodeDisclosure(b []byte, d *Disclosure) error { return httpapi.DecodeJSON(b, d) }

func (h *handler) securityTxt(w http.ResponseWriter, r *http.Request) {
	p := h.svc.cfg.Publication
	if len(p.Contact) == 0 {
		h.fail(w, r, fault.Wrap(ErrNotFound, "no security contact is configured"))
		return
	}
	expires := p.Expires
	if expires.IsZero() {
		expires = h.svc.now().UTC().Truncate(24*time.Hour).AddDate(1, 0, 0)
	}
	var b strings.Builder
	for _, c := range p.Contact {
		fmt.Fprintf(&b, "Contact: %s\n", c)
	}
	fmt.Fprintf(&b, "Expires: %s\n", expires.UTC().Format(time.RFC3339))
	for _, f := range [][2]string{{"Encryption", p.Encryption}, {"Acknowledgments", p.Acknowledgments}, {"Preferred-Languages", p.PreferredLanguages},
		{"Canonical", p.Canonical}, {"Policy", p.Policy}} {
		if f[1] != "" {
			fmt.Fprintf(&b, "%s: %s\n", f[0], f[1])
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte(b.String()))
}

func (h *handler) advisories(w http.ResponseWriter, r *http.Request) {
	as, err := h.svc.Advisories(r.Context(), 0)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"advisories": as})
}

type atomFeed struct {
	XMLName xml.Name    `xml:"http://www.w3.org/2005/Atom feed"`
	Title   string      `xml:"title"`
	ID      string      `xml:"id"`
	Updated string      `xml:"updated"`
	Link    []atomLink  `xml:"link"`
	Author  atomAuthor  `xml:"author"`
	Entries []atomEntry `xml:"entry"`
}

type atomLink struct {
	Rel  string `xml:"rel,attr,omitempty"`
	Href string `xml:"href,attr"`
}

type atomAuthor struct {
	Name string `xml:"name"`
}

type atomEntry struct {
	Title   string   `xml:"title"`
	ID      string   `xml:"id"`
	Updated string   `xml:"updated"`
	Link    atomLink `xml:"link"`
	Summary string   `xml:"summary"`
	Content struct {
		Type string `xml:"type,attr"`
		Body string `xml:",chardata"`
	} `xml:"content"`
}

func (h *handler) atom(w http.ResponseWriter, r *http.Request) {
	as, err := h.svc.Advisories(r.Context(), 0)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	p := h.svc.cfg.Publication
	base := strings.TrimRight(p.BaseURL, "/")
	f := atomFeed{Title: p.Vendor + " security advisories", ID: base + "/api/v1/advisories.atom", Author: atomAuthor{Name: p.Vendor},
		Link: []atomLink{{Rel: "self", Href: base + "/api/v1/advisories.atom"}, {Href: base + "/advisories"}}}
	updated := time.Unix(0, 0).UTC()
	for _, a := range as {
		if a.Published.After(updated) {
			updated = a.Published
		}
		e := atomEntry{Title: fmt.Sprintf("[%s] %s", a.Severity, a.Title), ID: "urn:uuid:" + a.ID, Updated: a.Published.UTC().Format(time.RFC3339),
			Link: atomLink{Href: base + "/advisories#" + a.ID}, Summary: a.WhatHappened}
		e.Content.Type = "text"
		e.Content.Body = Notice{WhatHappened: a.WhatHappened, Impact: a.Impact, Action: a.Action, Timeline: a.Timeline}.Body()
		f.Entries = append(f.Entries, e)
	}
	f.Updated = updated.Format(time.RFC3339)
	w.Header().Set("Content-Type", "application/atom+xml; charset=utf-8")
	_, _ = w.Write([]byte(xml.Header))
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	_ = enc.Encode(f)
}

var page = template.Must(template.New("advisories").Parse(`<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>{{.Vendor}} security advisories</title>
<link rel="alternate" type="application/atom+xml" href="{{.Base}}/api/v1/advisories.atom"></head>
<body>
<h1>{{.Vendor}} security advisories</h1>
<p>Subscribe: <a href="{{.Base}}/api/v1/advisories.atom">Atom feed</a> · <a href="{{.Base}}/api/v1/advisories">JSON</a></p>
{{range .Advisories}}<article id="{{.ID}}">
<h2>{{.Title}}</h2>
<p><strong>{{.Severity}}</strong>{{if .Vector}} · CVSS {{printf "%.1f" .Score}} <code>{{.Vector}}</code>{{end}} · {{.Product}}{{if .Component}} ({{.Component}}){{end}}{{range .Identifiers}} · {{.}}{{end}} · published {{.Published.Format "2006-01-02"}}</p>
{{if .WhatHappened}}<h3>What happened</h3><p>{{.WhatHappened}}</p>{{end}}
{{if .Impact}}<h3>Impact</h3><p>{{.Impact}}</p>{{end}}
{{if .Action}}<h3>What you should do</h3><p>{{.Action}}</p>{{end}}
{{if .Timeline}}<h3>Timeline</h3><p>{{.Timeline}}</p>{{end}}
</article>
{{else}}<p>No published advisories.</p>
{{end}}</body>
</html>
`))

func (h *handler) html(w http.ResponseWriter, r *http.Request) {
	as, err := h.svc.Advisories(r.Context(), 0)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	p := h.svc.cfg.Publication
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := page.Execute(w, map[string]any{"Vendor": p.Vendor, "Base": strings.TrimRight(p.BaseURL, "/"), "Advisories": as}); err != nil {
		h.log.ErrorContext(r.Context(), "render advisories", "err", err)
	}
}
