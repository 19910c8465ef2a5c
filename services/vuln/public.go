package vuln

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"sync"
	"time"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/fault"
)

// Publication configures what the public endpoints say about the vendor
// (RFC 9116 security.txt fields and the advisory feed's identity).
type Publication struct {
	// Contact are security.txt Contact URIs (mailto:, https:, tel:); at
	// least one is needed for /.well-known/security.txt to be served.
	Contact []string
	// Expires is security.txt's Expires. Default: one year after start,
	// at midnight UTC.
	Expires time.Time
	// Policy is the URL of the vulnerability disclosure policy.
	Policy string
	// PreferredLanguages, e.g. "en, de".
	PreferredLanguages string
	// Canonical is the URL security.txt is served at.
	Canonical string
	// Encryption is the URL of the OpenPGP key for reports.
	Encryption string
	// Acknowledgments is the URL of the hall of fame.
	Acknowledgments string
	// BaseURL is the public base URL (advisory links, the Atom feed id).
	BaseURL string
	// Vendor names the vendor in feeds and the HTML page. Default
	// "firebreak".
	Vendor string
}

func (p *Publication) validate() error {
	for _, c := range p.Contact {
		if !strings.HasPrefix(c, "mailto:") && !strings.HasPrefix(c, "https://") && !strings.HasPrefix(c, "tel:") {
			return fmt.Errorf("security.txt contact %q must be a mailto:, https:// or tel: URI (RFC 9116)", c)
		}
	}
	if p.Vendor == "" {
		p.Vendor = "firebreak"
	}
	return nil
}

// DisclosureLimits bounds the public disclosure endpoint.
type DisclosureLimits struct {
	// PerAddress is how many reports one client address may send per
	// Window. Default 5.
	PerAddress int
	// Window is the rate window. Default 1 hour.
	Window time.Duration
	// MaxBody is the largest report in bytes. Default 64 KiB.
	MaxBody int64
	// MaxAddresses bounds the limiter's memory. Default 100 000.
	MaxAddresses int
}

func (d *DisclosureLimits) setDefaults() {
	if d.PerAddress <= 0 {
		d.PerAddress = 5
	}
	if d.Window <= 0 {
		d.Window = time.Hour
	}
	if d.MaxBody <= 0 {
		d.MaxBody = 64 << 10
	}
	if d.MaxAddresses <= 0 {
		d.MaxAddresses = 100_000
	}
}

// limiter is a fixed-window counter per client address. It is in memory:
// each replica limits on its own, which bounds abuse per replica.
type limiter struct {
	cfg DisclosureLimits
	now func() time.Time
	mu  sync.Mutex
	win time.Time
	n   map[string]int
}

func newLimiter(cfg DisclosureLimits, now func() time.Time) *limiter {
	return &limiter{cfg: cfg, now: now, n: map[string]int{}}
}

// allow counts one report from addr and reports whether it is within the
// limit, and when the window ends.
func (l *limiter) allow(addr string) (bool, time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if now.Sub(l.win) >= l.cfg.Window {
		l.win = now.Truncate(l.cfg.Window)
		clear(l.n)
	}
	reset := l.win.Add(l.cfg.Window)
	if _, ok := l.n[addr]; !ok && len(l.n) >= l.cfg.MaxAddresses {
		return false, reset
	}
	if l.n[addr] >= l.cfg.PerAddress {
		return false, reset
	}
	l.n[addr]++
	return true, reset
}

// Disclosure is a report sent to the public endpoint.
type Disclosure struct {
	Title       string `json:"title"`
	Description string `json:"description"`
	// Product is optional; when given it must be a known product.
	Product   string `json:"product,omitempty"`
	Component string `json:"component,omitempty"`
	Versions  string `json:"affected_versions,omitempty"`
	Vector    string `json:"cvss_vector,omitempty"`
	Name      string `json:"reporter_name,omitempty"`
	Email     string `json:"reporter_email,omitempty"`
}

// Receipt answers a disclosure.
type Receipt struct {
	TrackingID      string    `json:"tracking_id"`
	Status          string    `json:"status"`
	ReceivedAt      time.Time `json:"received_at"`
	Acknowledgement string    `json:"acknowledgement"`
}

// ErrRateLimited refuses a client address that sent too many reports.
var ErrRateLimited = fault.New(fault.RateLimited, "rate_limited", "too many reports from this address")

// Validate checks a disclosure.
func (d Disclosure) Validate() error {
	switch {
	case strings.TrimSpace(d.Title) == "":
		return fault.Field("title", "is required")
	case len(d.Title) > MaxTitleLen:
		return fault.Field("title", "is longer than %d bytes", MaxTitleLen)
	case strings.TrimSpace(d.Description) == "":
		return fault.Field("description", "is required: what is vulnerable and how to reproduce it")
	case len(d.Description) > MaxDescriptionLen:
		return fault.Field("description", "is longer than %d bytes", MaxDescriptionLen)
	case len(d.Product) > MaxFieldLen:
		return fault.Field("product", "is longer than %d bytes", MaxFieldLen)
	case len(d.Component) > MaxFieldLen:
		return fault.Field("component", "is longer than %d bytes", MaxFieldLen)
	case len(d.Versions) > MaxFieldLen:
		return fault.Field("affected_versions", "is longer than %d bytes", MaxFieldLen)
	case len(d.Name) > 200:
		return fault.Field("reporter_name", "is longer than 200 bytes")
	}
	if d.Email != "" {
		a, err := mail.ParseAddress(d.Email)
		if err != nil || a.Address != d.Email || len(d.Email) > 254 {
			return fault.Field("reporter_email", "is not an e-mail address")
		}
	}
	return nil
}

// AdmitDisclosure counts one disclosure request from client address addr
// and refuses it (ErrRateLimited) over the limit. The HTTP handler calls it
// before it reads the body, so malformed and oversize requests count too.
func (s *Service) AdmitDisclosure(addr string) error {
	if ok, reset := s.limit.allow(addr); !ok {
		e := fault.Wrap(ErrRateLimited, "too many reports from this address; try again after %s", reset.UTC().Format(time.RFC3339))
		e.Details = map[string]any{"retry_after": reset.UTC().Format(time.RFC3339)}
		return e
	}
	return nil
}

// Disclose records a responsible-disclosure report admitted by
// AdmitDisclosure: validated, stored private (never public, reporter
// contact kept private) as an identified vulnerability.
func (s *Service) Disclose(ctx context.Context, d Disclosure) (Receipt, error) {
	if err := d.Validate(); err != nil {
		return Receipt{}, err
	}
	score, vector, sev, err := scoreOf(d.Vector, "")
	if err != nil {
		return Receipt{}, err
	}
	now := s.now().UTC()
	v := Vuln{ID: newID(), Title: strings.TrimSpace(d.Title), Description: d.Description, Component: d.Component, AffectedVersions: d.Versions,
		Vector: vector, Score: score, Severity: sev, Source: SourceDisclosure, Reporter: Reporter{Name: d.Name, Contact: d.Email},
		Status: StatusIdentified, ReportedAt: now, CreatedAt: now, UpdatedAt: now}
	actor := events.Actor{Kind: events.ActorIntegration, ID: "disclosure", Name: "public disclosure", Channel: events.ChannelAPI}
	err = s.inTx(ctx, func(tx Tx) error {
		if d.Product != "" {
			p, err := tx.ProductGet(ctx, d.Product)
			if errors.Is(err, ErrNotFound) {
				return fault.Field("product", "unknown product %q", d.Product)
			}
			if err != nil {
				return err
			}
			v.Product, v.Hosting, v.Service = p.Name, p.Hosting, p.Service
		}
		var err error
		if v.Number, err = tx.VulnNextNumber(ctx); err != nil {
			return err
		}
		return s.insert(ctx, tx, &v, actor)
	})
	if err != nil {
		return Receipt{}, err
	}
	ack := fmt.Sprintf("Thank you. We received your security report %q on %s and track it as %s. Quote this tracking id in any follow-up. "+
		"We will acknowledge and triage it under our vulnerability disclosure policy", v.Title, now.Format(time.RFC1123), v.ID)
	if d.Email != "" {
		ack += " and write to the address you gave"
	}
	return Receipt{TrackingID: v.ID, Status: "received", ReceivedAt: now, Acknowledgement: ack + "."}, nil
}

// NoticeDraft is what DraftNotice writes; empty sections take the
// template's text built from the vulnerability.
type NoticeDraft struct {
	Title        string `json:"title,omitempty"`
	WhatHappened string `json:"what_happened,omitempty"`
	Impact       string `json:"impact,omitempty"`
	Action       string `json:"action,omitempty"`
	Timeline     string `json:"timeline,omitempty"`
}

// DraftNotice drafts a customer notice for a vulnerability from the
// template. Nothing is published until ApproveNotice.
func (s *Service) DraftNotice(ctx context.Context, r string, d NoticeDraft, actor events.Actor) (Notice, error) {
	for _, c := range []struct{ f, v string }{{"title", d.Title}, {"what_happened", d.WhatHappened}, {"impact", d.Impact}, {"action", d.Action}, {"timeline", d.Timeline}} {
		if err := checkLen(c.f, c.v, MaxDescriptionLen); err != nil {
			return Notice{}, err
		}
	}
	var n Notice
	err := s.inTx(ctx, func(tx Tx) error {
		v, err := get(ctx, tx, r)
		if err != nil {
			return err
		}
		n = templateNotice(v, d)
		n.ID, n.DraftedBy, n.CreatedAt, n.Status, n.Version = newID(), actorName(actor), s.now().UTC(), NoticeStatusDraft, 1
		if err := tx.NoticeInsert(ctx, n); err != nil {
			return err
		}
		if err := tx.HistoryAdd(ctx, History{VulnID: v.ID, Kind: HistoryNotice, At: n.CreatedAt, Severity: v.Severity, Actor: n.DraftedBy,
			To: string(NoticeStatusDraft), Reason: n.Title}); err != nil {
			return err
		}
		env, err := s.event(events.TypeVulnNoticeDrafted, v, actor, events.VulnNotice{NoticeID: n.ID, VulnID: v.ID, Title: n.Title, Body: n.Body()})
		if err != nil {
			return err
		}
		return tx.Emit(ctx, env)
	})
	return n, err
}

// templateNotice fills the notice template from v.
func templateNotice(v Vuln, d NoticeDraft) Notice {
	ids := strings.Join(v.Identifiers, ", ")
	def := func(s, fallback string) string {
		if strings.TrimSpace(s) != "" {
			return s
		}
		return fallback
	}
	what := fmt.Sprintf("A %s severity vulnerability was found in %s", strings.ToLower(string(v.Severity)), v.Product)
	if v.Component != "" {
		what += " (" + v.Component + ")"
	}
	if ids != "" {
		what += ", tracked as " + ids
	}
	impact := "Affected versions: " + def(v.AffectedVersions, "see below") + "."
	if v.Vector != "" {
		impact += fmt.Sprintf(" CVSS %.1f (%s).", v.Score, v.Vector)
	}
	action := "No action is needed yet; we will update this notice."
	if v.FixedVersion != "" {
		action = "Upgrade to " + v.FixedVersion + " or later."
	}
	timeline := fmt.Sprintf("Reported %s.", v.ReportedAt.UTC().Format(time.DateOnly))
	if !v.RemediatedAt.IsZero() {
		timeline += fmt.Sprintf(" Fixed %s.", v.RemediatedAt.UTC().Format(time.DateOnly))
	}
	return Notice{VulnID: v.ID, Title: def(d.Title, "Security advisory: "+v.Title), WhatHappened: def(d.WhatHappened, what+"."),
		Impact: def(d.Impact, impact), Action: def(d.Action, action), Timeline: def(d.Timeline, timeline)}
}

// ApproveNotice approves and publishes a draft: it goes on the advisory
// feed and a vuln.notice_published event asks notify to send it to
// subscribers. The HTTP layer lets only holders of comms:approve call it;
// the notice's author cannot approve it (ErrSelfApproval, 403).
// A notice of a vulnerability that is not public or still embargoed is
// refused (409): approving it would disclose what is held back.
func (s *Service) ApproveNotice(ctx context.Context, id string, actor events.Actor) (Notice, error) {
	var n Notice
	err := s.inTx(ctx, func(tx Tx) error {
		var err error
		if n, err = tx.NoticeGet(ctx, id); err != nil {
			return err
		}
		if n.Status == NoticePublished {
			return fault.Wrap(ErrIllegalTransition, "notice %s is already published", n.ID)
		}
		if n.DraftedBy != "" && actorName(actor) == n.DraftedBy {
			return fault.Wrap(ErrSelfApproval, "%s drafted notice %s and cannot approve it; another holder of comms:approve must (four-eyes rule)", n.DraftedBy, n.ID)
		}
		v, err := tx.VulnGet(ctx, n.VulnID, 0)
		if err != nil {
			return err
		}
		if !v.Disclosable() {
			return fault.Wrap(ErrNotApproved, "%s is not public or is embargoed; make it public and lift the embargo before publishing", v.Key())
		}
		n.Status, n.ApprovedBy, n.PublishedAt = NoticePublished, actorName(actor), s.now().UTC()
		if n, err = tx.NoticeUpdate(ctx, n); err != nil {
			return err
		}
		if err := tx.HistoryAdd(ctx, History{VulnID: v.ID, Kind: HistoryNotice, At: n.PublishedAt, Severity: v.Severity, Actor: n.ApprovedBy,
			From: string(NoticeStatusDraft), To: string(NoticePublished), Reason: n.Title}); err != nil {
			return err
		}
		at := n.PublishedAt
		env, err := s.event(events.TypeVulnNoticePublished, v, actor, events.VulnNotice{NoticeID: n.ID, VulnID: v.ID, Title: n.Title, Body: n.Body(),
			URL: strings.TrimRight(s.cfg.Publication.BaseURL, "/") + "/api/v1/advisories/" + n.ID, ApprovedBy: n.ApprovedBy, Published: &at,
			Product: v.Product, Service: v.Service})
		if err != nil {
			return err
		}
		return tx.Emit(ctx, env)
	})
	return n, err
}

// Notices lists a vulnerability's notices.
func (s *Service) Notices(ctx context.Context, r string) ([]Notice, error) {
	v, err := s.Get(ctx, r)
	if err != nil {
		return nil, err
	}
	return s.store.NoticeList(ctx, v.ID)
}

// Advisories lists published advisories of disclosable vulnerabilities.
func (s *Service) Advisories(ctx context.Context, limit int) ([]Advisory, error) {
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	return s.store.AdvisoryList(ctx, limit)
}
