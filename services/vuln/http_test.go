package vuln_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/httpapi"
	"github.com/firebreak-dev/firebreak/services/vuln"
)

// tokens authenticates fixed test tokens with fixed scopes.
type tokens map[string]httpapi.Principal

func (ts tokens) Authenticate(_ context.Context, tok string) (httpapi.Principal, error) {
	if p, ok := ts[tok]; ok {
		return p, nil
	}
	return httpapi.Principal{}, httpapi.ErrBadToken
}

var testTokens = tokens{
	"writer":   {ID: "alice", Name: "Alice", Kind: events.ActorUser, Scopes: []string{httpapi.ScopeVulnsRead, httpapi.ScopeVulnsWrite}},
	"reader":   {ID: "rita", Kind: events.ActorUser, Scopes: []string{httpapi.ScopeVulnsRead}},
	"approver": {ID: "carol", Name: "Carol", Kind: events.ActorUser, Scopes: []string{httpapi.ScopeCommsApprove}},
	// alice again, also holding comms:approve (TestNoticeSelfApproval).
	"writer-approver": {ID: "alice", Name: "Alice", Kind: events.ActorUser, Scopes: []string{httpapi.ScopeVulnsWrite, httpapi.ScopeCommsApprove}},
}

type api struct {
	*harness
	url string
}

func newAPI(t *testing.T, mod func(*vuln.Config)) *api {
	h := newHarness(t, func(c *vuln.Config) {
		c.Publication = vuln.Publication{Contact: []string{"mailto:security@example.com", "https://example.com/security"},
			Expires: time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC), Policy: "https://example.com/security-policy",
			PreferredLanguages: "en, de", Canonical: "https://example.com/.well-known/security.txt", BaseURL: "https://status.example.com", Vendor: "Example"}
		if mod != nil {
			mod(c)
		}
	})
	srv, err := httpapi.New(testTokens, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	h.svc.Routes(srv, nil)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return &api{harness: h, url: ts.URL}
}

// do sends a request and returns the status and body.
func (a *api) do(method, path, token string, body any) (int, []byte) {
	a.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		r = bytes.NewReader(b)
	case string:
		r = strings.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		r = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, a.url+path, r)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

func (a *api) must(want int, method, path, token string, body any) []byte {
	a.t.Helper()
	st, b := a.do(method, path, token, body)
	if st != want {
		a.t.Fatalf("%s %s: %d %s, want %d", method, path, st, b, want)
	}
	return b
}

func errField(b []byte) (code string, field any) {
	var e httpapi.ErrorBody
	_ = json.Unmarshal(b, &e)
	return e.Error.Code, e.Error.Details["field"]
}

func TestHTTPLifecycleAndScopes(t *testing.T) {
	t.Parallel()
	a := newAPI(t, nil)
	a.must(401, "GET", "/api/v1/vulnerabilities", "", nil)
	a.must(403, "POST", "/api/v1/vulnerabilities", "reader", map[string]any{"title": "x", "product": "web"})
	var v vuln.VulnJSON
	_ = json.Unmarshal(a.must(201, "POST", "/api/v1/vulnerabilities", "writer",
		map[string]any{"title": "XSS in search", "product": "web", "cvss_vector": vecHigh}), &v)
	if v.Key != "VULN-1" || v.SLA.State != vuln.SLAOK || !v.SLA.DueAt.Equal(t0.Add(6*7*24*time.Hour)) {
		t.Fatalf("created %+v", v)
	}
	_, b := a.do("POST", "/api/v1/vulnerabilities/VULN-1/transition", "writer", map[string]any{"to": "closed"})
	if code, _ := errField(b); code != "illegal_transition" {
		t.Errorf("illegal transition: %s", b)
	}
	if st, _ := a.do("POST", "/api/v1/vulnerabilities/VULN-1/transition", "writer", map[string]any{"to": "closed"}); st != 409 {
		t.Errorf("illegal transition status %d", st)
	}
	a.must(200, "POST", "/api/v1/vulnerabilities/VULN-1/transition", "writer", map[string]any{"to": "acknowledged"})
	st, b := a.do("POST", "/api/v1/vulnerabilities", "writer", map[string]any{"title": "x", "product": "web", "cvss_vector": "CVSS:3.1/AV:N"})
	if _, f := errField(b); st != 400 || f != "cvss_vector" {
		t.Errorf("bad vector: %d %s", st, b)
	}
	st, b = a.do("POST", "/api/v1/vulnerabilities", "writer", `{"title": "x", "product": "web", "colour": 1}`)
	if st != 400 || !strings.Contains(string(b), "colour") {
		t.Errorf("unknown field: %d %s", st, b)
	}
	var d vuln.DetailJSON
	_ = json.Unmarshal(a.must(200, "GET", "/api/v1/vulnerabilities/VULN-1", "reader", nil), &d)
	if d.Status != vuln.StatusAcknowledged || len(d.History) != 2 || d.History[1].Actor != "Alice" {
		t.Errorf("detail %+v", d)
	}
	var l vuln.ListJSON
	_ = json.Unmarshal(a.must(200, "GET", "/api/v1/vulnerabilities?status=acknowledged&severity=high", "reader", nil), &l)
	if len(l.Vulnerabilities) != 1 {
		t.Errorf("list %+v", l)
	}
	if st, b := a.do("GET", "/api/v1/vulnerabilities?status=done", "reader", nil); st != 400 {
		t.Errorf("bad status filter %d %s", st, b)
	}
	a.must(200, "GET", "/api/v1/vulnerabilities/report", "reader", nil)
	if st, _ := a.do("GET", "/api/v1/vulnerabilities/report?from=yesterday", "reader", nil); st != 400 {
		t.Errorf("bad from %d", st)
	}
}

func TestHTTPImport(t *testing.T) {
	t.Parallel()
	a := newAPI(t, nil)
	var res vuln.ImportResult
	_ = json.Unmarshal(a.must(200, "POST", "/api/v1/vulnerabilities/import?format=trivy&product=web", "writer", fixture(t, "trivy.json")), &res)
	if res.Created != 4 {
		t.Errorf("import %+v", res)
	}
	for q, field := range map[string]string{"format=nessus&product=web": "format", "format=osv": "product"} {
		st, b := a.do("POST", "/api/v1/vulnerabilities/import?"+q, "writer", fixture(t, "osv.json"))
		if _, f := errField(b); st != 400 || f != field {
			t.Errorf("%s: %d %s", q, st, b)
		}
	}
	st, b := a.do("POST", "/api/v1/vulnerabilities/import?format=osv&product=web", "writer", `{"results":[{"packages":[{"package":{}}]}]}`)
	if _, f := errField(b); st != 400 || f != "results[0].packages[0].package.name" {
		t.Errorf("malformed: %d %s", st, b)
	}
}

func TestHTTPDisclosure(t *testing.T) {
	t.Parallel()
	a := newAPI(t, func(c *vuln.Config) { c.Disclosures = vuln.DisclosureLimits{PerAddress: 5, MaxBody: 2048} })
	report := map[string]any{"title": "Auth bypass", "description": "steps…", "product": "web", "reporter_email": "eve@example.org", "reporter_name": "Eve"}
	var rec vuln.Receipt
	_ = json.Unmarshal(a.must(202, "POST", "/api/v1/disclosures", "", report), &rec)
	if rec.TrackingID == "" || !strings.Contains(rec.Acknowledgement, rec.TrackingID) {
		t.Fatalf("receipt %+v", rec)
	}
	v, err := a.svc.Get(context.Background(), rec.TrackingID)
	if err != nil || v.Source != vuln.SourceDisclosure || v.Public || v.Reporter.Contact != "eve@example.org" || v.Status != vuln.StatusIdentified {
		t.Fatalf("recorded %+v %v", v, err)
	}
	for name, c := range map[string]struct {
		body   any
		status int
		field  string
	}{
		"no description": {map[string]any{"title": "x"}, 400, "description"},
		"bad email":      {map[string]any{"title": "x", "description": "y", "reporter_email": "not-an-address"}, 400, "reporter_email"},
		"unknown field":  {`{"title":"x","description":"y","token":"z"}`, 400, ""},
		"too large":      {map[string]any{"title": "x", "description": strings.Repeat("y", 4096)}, 413, ""},
	} {
		st, b := a.do("POST", "/api/v1/disclosures", "", c.body)
		if _, f := errField(b); st != c.status || (c.field != "" && f != c.field) {
			t.Errorf("%s: %d %s", name, st, b)
		}
	}
	// Rate limit: the invalid, malformed and oversize requests counted too
	// (5 in the window); the address is over.
	st, b := a.do("POST", "/api/v1/disclosures", "", report)
	if code, _ := errField(b); st != 429 || code != "rate_limited" {
		t.Errorf("over the limit: %d %s", st, b)
	}
	a.clock.Set(t0.Add(2 * time.Hour))
	a.must(202, "POST", "/api/v1/disclosures", "", report)
}

// TestNothingLeaks: no public endpoint shows an embargoed, private or
// unapproved record, nor any reporter contact or private description.
func TestNothingLeaks(t *testing.T) {
	t.Parallel()
	a := newAPI(t, nil)
	ctx := context.Background()
	mk := func(title string, public, embargoed bool) vuln.Vuln {
		v, err := a.svc.Create(ctx, vuln.NewVuln{Title: title, Product: "web", Vector: vecHigh, Public: public, Embargoed: embargoed,
			Description: "PRIVATE-DESCRIPTION-" + title, Reporter: vuln.Reporter{Name: "Eve", Contact: "eve-" + title + "@example.org"}}, alice)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	pub := mk("PUBLISHED", true, false)
	emb := mk("EMBARGOED", true, true)
	priv := mk("PRIVATE", false, false)
	drafted := mk("DRAFTED", true, false)
	var n vuln.Notice
	_ = json.Unmarshal(a.must(201, "POST", "/api/v1/vulnerabilities/"+pub.Key()+"/notices", "writer", map[string]any{}), &n)
	// Approval needs comms:approve.
	a.must(403, "POST", "/api/v1/notices/"+n.ID+"/approve", "writer", nil)
	st, body := a.do("GET", "/api/v1/advisories", "", nil)
	if st != 200 || strings.Contains(string(body), "PUBLISHED") {
		t.Fatalf("unapproved notice published: %s", body)
	}
	a.must(200, "POST", "/api/v1/notices/"+n.ID+"/approve", "approver", nil)
	a.must(409, "POST", "/api/v1/notices/"+n.ID+"/approve", "approver", nil)
	for _, v := range []vuln.Vuln{emb, priv} {
		var dn vuln.Notice
		_ = json.Unmarshal(a.must(201, "POST", "/api/v1/vulnerabilities/"+v.Key()+"/notices", "writer", map[string]any{"title": "about " + v.Title}), &dn)
		st, b := a.do("POST", "/api/v1/notices/"+dn.ID+"/approve", "approver", nil)
		if code, _ := errField(b); st != 409 || code != "not_approved" {
			t.Errorf("approving a notice of %s: %d %s", v.Title, st, b)
		}
	}
	a.must(201, "POST", "/api/v1/vulnerabilities/"+drafted.Key()+"/notices", "writer", map[string]any{"title": "about DRAFTED"})
	// An approved notice whose vulnerability is embargoed later disappears.
	late := mk("LATE-EMBARGO", true, false)
	var ln vuln.Notice
	_ = json.Unmarshal(a.must(201, "POST", "/api/v1/vulnerabilities/"+late.Key()+"/notices", "writer", map[string]any{}), &ln)
	a.must(200, "POST", "/api/v1/notices/"+ln.ID+"/approve", "approver", nil)
	a.must(200, "PATCH", "/api/v1/vulnerabilities/"+late.Key(), "writer", map[string]any{"embargoed": true})

	var all strings.Builder
	for _, p := range []string{"/api/v1/advisories", "/api/v1/advisories.atom", "/advisories", "/.well-known/security.txt"} {
		b := a.must(200, "GET", p, "", nil)
		all.Write(b)
	}
	out := all.String()
	if !strings.Contains(out, "Security advisory: PUBLISHED") {
		t.Fatalf("the approved advisory is missing:\n%s", out)
	}
	for _, secret := range []string{"EMBARGOED", "PRIVATE", "DRAFTED", "LATE-EMBARGO", "eve-", "@example.org", "PRIVATE-DESCRIPTION"} {
		if strings.Contains(out, secret) {
			t.Errorf("public endpoints leak %q", secret)
		}
	}
	// Events notify sends to subscribers only for the approved notice.
	var published int
	for _, e := range a.events() {
		if e.Type == events.TypeVulnNoticePublished {
			published++
		}
	}
	if published != 2 {
		t.Errorf("%d notice_published events, want 2 (PUBLISHED, LATE-EMBARGO before its embargo)", published)
	}
	// Everything non-public needs a token.
	a.must(401, "GET", "/api/v1/vulnerabilities/"+pub.Key(), "", nil)
	a.must(401, "GET", "/api/v1/vulnerabilities/"+pub.Key()+"/notices", "", nil)
}

func TestSecurityTxt(t *testing.T) {
	t.Parallel()
	a := newAPI(t, nil)
	b := string(a.must(200, "GET", "/.well-known/security.txt", "", nil))
	want := "Contact: mailto:security@example.com\nContact: https://example.com/security\nExpires: 2027-03-01T00:00:00Z\n" +
		"Preferred-Languages: en, de\nCanonical: https://example.com/.well-known/security.txt\nPolicy: https://example.com/security-policy\n"
	if b != want {
		t.Errorf("security.txt:\n%s\nwant:\n%s", b, want)
	}
	h := newHarness(t, nil)
	srv, _ := httpapi.New(testTokens, slog.New(slog.DiscardHandler), nil)
	h.svc.Routes(srv, nil)
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/.well-known/security.txt", nil))
	if rec.Code != 404 {
		t.Errorf("without a contact: %d", rec.Code)
	}
}
