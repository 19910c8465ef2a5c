package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/app"
	"github.com/firebreak-dev/firebreak/internal/bus"
	"github.com/firebreak-dev/firebreak/internal/client"
	"github.com/firebreak-dev/firebreak/internal/db/dbtest"
	"github.com/firebreak-dev/firebreak/internal/token"
	"github.com/firebreak-dev/firebreak/services/incident"
	"github.com/firebreak-dev/firebreak/services/intake"
	"github.com/firebreak-dev/firebreak/services/postmortem"
)

// TestPostmortemEndToEnd: alert → acknowledge → contain → mitigate →
// resolve over real HTTP, JetStream and SQLite; the timeline has every
// step in order with its actor; the SEV1 incident cannot close until its
// post-mortem is published, and closes once it is.
func TestPostmortemEndToEnd(t *testing.T) {
	t.Parallel()
	a := start(t, devConfig(t.TempDir()))
	rec := record(t, a.NATSConn())
	ctx := context.Background()
	c := client.New(a.HTTPURL(), a.Token(), "cli")

	if _, err := c.SendAlert(ctx, intake.Alert{Service: "checkout", DedupKey: "5xx", Summary: "5xx above 5%", Severity: "critical"}); err != nil {
		t.Fatal(err)
	}
	waitIncident(t, c, "INC-1", func(i incident.IncidentJSON) bool { return i.Severity == "SEV1" })
	steps := []struct{ action, text string }{
		{"acknowledge", "on it"}, {"contain", "blocked the bad client"}, {"mitigate", "rolled back deploy 118"}, {"resolve", "fixed"},
	}
	for _, s := range steps {
		body := incident.CommandBody{Note: s.text}
		if s.action == "contain" || s.action == "mitigate" {
			body = incident.CommandBody{Action: s.text}
		}
		if _, err := c.Act(ctx, "INC-1", s.action, body); err != nil {
			t.Fatalf("%s: %v", s.action, err)
		}
	}
	want := []string{events.TypeAlertReceived, events.TypeIncidentTriggered, events.TypeIncidentAcknowledged,
		events.TypeIncidentContained, events.TypeIncidentMitigated, events.TypeIncidentResolved}
	var tl postmortem.TimelineJSON
	eventually(t, "the whole timeline", func() bool {
		var err error
		tl, err = c.TimelineJSON(ctx, "INC-1")
		if err != nil {
			return false
		}
		var types []string
		for _, e := range tl.Entries {
			if slices.Contains(want, e.Type) {
				types = append(types, e.Type)
			}
		}
		return slices.Equal(types, want)
	})
	for _, e := range tl.Entries {
		if strings.HasPrefix(e.Type, "incident.") && e.Type != events.TypeIncidentTriggered &&
			(e.Actor.ID != "admin" || e.Actor.Channel != events.ChannelCLI) {
			t.Errorf("%s by %+v, want admin via cli", e.Type, e.Actor)
		}
	}
	// Entries carry their events' data only on request.
	for _, e := range tl.Entries {
		if len(e.Details) != 0 {
			t.Fatalf("%s has details without ?details=true", e.Type)
		}
	}
	raw, err := c.Timeline(ctx, "INC-1", "json", "", true)
	if err != nil {
		t.Fatal(err)
	}
	var full postmortem.TimelineJSON
	if err := json.Unmarshal(raw, &full); err != nil || len(full.Entries) != len(tl.Entries) || len(full.Entries[0].Details) == 0 {
		t.Fatalf("?details=true: %d entries (want %d), first %+v, %v", len(full.Entries), len(tl.Entries), full.Entries, err)
	}
	d := tl.Durations
	if d.ToAcknowledge == nil || d.ToContain == nil || d.ToMitigate == nil || d.ToResolve == nil || tl.Incident.AlertCount != 1 {
		t.Fatalf("durations %+v, incident %+v", d, tl.Incident)
	}
	md, err := c.Timeline(ctx, "1", "md", "Europe/Berlin", false)
	if err != nil || !strings.Contains(string(md), "Timeline of INC-1") || !strings.Contains(string(md), "Contained: blocked the bad client") {
		t.Fatalf("markdown timeline %v\n%s", err, md)
	}

	// Closing needs the post-mortem.
	if _, err := c.Act(ctx, "INC-1", "close", incident.CommandBody{}); statusOf(err) != 409 {
		t.Fatalf("close before the post-mortem: %v, want 409", err)
	}
	pm, err := c.CreatePostmortem(ctx, "INC-1", "")
	if err != nil || pm.IncidentKey != "INC-1" || pm.Revision != 1 {
		t.Fatalf("create: %+v %v", pm, err)
	}
	rc := "a bad deploy"
	if pm, err = c.EditPostmortem(ctx, pm.ID, postmortem.EditBody{BaseRevision: 1, Sections: postmortem.SectionPatch{RootCause: &rc}}); err != nil {
		t.Fatal(err)
	}
	stale := "overwritten"
	_, err = c.EditPostmortem(ctx, pm.ID, postmortem.EditBody{BaseRevision: 1, Sections: postmortem.SectionPatch{RootCause: &stale}})
	if st, ae := apiStatus(err); st != 409 || ae.Code != "stale_revision" {
		t.Fatalf("stale edit: %v", err)
	}
	if pm, err = c.SetPostmortemState(ctx, pm.ID, pm.Revision, "in_review"); err != nil {
		t.Fatal(err)
	}
	if pm, err = c.SetPostmortemState(ctx, pm.ID, pm.Revision, "published"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the close gate to open", func() bool {
		_, err := c.Act(ctx, "INC-1", "close", incident.CommandBody{})
		return err == nil
	})
	waitIncident(t, c, "INC-1", func(i incident.IncidentJSON) bool { return i.Status == incident.StatusClosed })
	doc, err := c.PostmortemMarkdown(ctx, "INC-1", "")
	if err != nil || !strings.Contains(string(doc), "a bad deploy") || !strings.Contains(string(doc), "## Timeline") {
		t.Fatalf("export: %v\n%s", err, doc)
	}
	eventually(t, "the published post-mortem on the timeline", func() bool {
		tl, err := c.TimelineJSON(ctx, "INC-1")
		if err != nil {
			return false
		}
		return slices.ContainsFunc(tl.Entries, func(e postmortem.Entry) bool { return e.Type == events.TypePostmortemPublished })
	})
	rep, err := c.ResponseReport(ctx, "30d", "severity")
	if err != nil || rep.Total.Incidents != 1 || rep.Groups[0].Key != "SEV1" || rep.Groups[0].TimeToResolve.Count != 1 {
		t.Fatalf("report %+v %v", rep, err)
	}
	rec.validate(t)
}

// TestPostmortemBadInput: unknown incidents 404, bad queries and bodies
// 400 naming the field; status updates need comms:approve and nothing is
// on the public feed before approval.
func TestPostmortemBadInput(t *testing.T) {
	t.Parallel()
	a := start(t, devConfig(t.TempDir()))
	ctx := context.Background()
	c := client.New(a.HTTPURL(), a.Token(), "cli")
	if _, err := c.SendAlert(ctx, intake.Alert{Service: "db", DedupKey: "disk", Summary: "disk full", Severity: "warning"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the projection", func() bool { _, err := c.TimelineJSON(ctx, "INC-1"); return err == nil })

	for _, tc := range []struct {
		path   string
		status int
		field  string
	}{
		{"/api/v1/incidents/INC-99/timeline", 404, ""},
		{"/api/v1/incidents/INC-1/timeline?format=pdf", 400, "format"},
		{"/api/v1/incidents/INC-1/timeline?tz=Mars/Olympus", 400, "tz"},
		{"/api/v1/incidents/INC-1/timeline?fromat=md", 400, "fromat"},
		{"/api/v1/incidents/INC-1/timeline?details=yes", 400, "details"},
		{"/api/v1/metrics/response?since=yesterday", 400, "since"},
		{"/api/v1/metrics/response?since=30d&by=team", 400, "by"},
		{"/api/v1/action-items?overdue=maybe", 400, "overdue"},
		{"/api/v1/postmortems/INC-1", 404, ""},
	} {
		req, _ := http.NewRequest(http.MethodGet, a.HTTPURL()+tc.path, nil)
		req.Header.Set("Authorization", "Bearer "+a.Token())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Error struct {
				Code    string         `json:"code"`
				Details map[string]any `json:"details"`
			} `json:"error"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || (tc.field != "" && body.Error.Details["field"] != tc.field) {
			t.Errorf("%s: %d %+v, want %d naming %q", tc.path, resp.StatusCode, body.Error, tc.status, tc.field)
		}
	}
	if _, err := c.CreatePostmortem(ctx, "INC-77", ""); statusOf(err) != 404 {
		t.Fatalf("post-mortem of an unknown incident: %v", err)
	}

	// Status updates: a responder drafts, only comms:approve approves.
	tok, err := c.CreateToken(ctx, token.Spec{User: "dave", Scopes: []string{token.ScopeIncidentsRead, token.ScopeIncidentsWrite}})
	if err != nil {
		t.Fatal(err)
	}
	post := func(secret, path, body string) (int, map[string]any) {
		req, _ := http.NewRequest(http.MethodPost, a.HTTPURL()+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	st, u := post(tok.Secret, "/api/v1/incidents/INC-1/status-updates", `{"audience":"external","status":"investigating","title":"Slow checkout","body":"We are looking into it."}`)
	if st != 201 {
		t.Fatalf("draft: %d %v", st, u)
	}
	id, _ := u["id"].(string)
	if st, _ := post(tok.Secret, "/api/v1/status-updates/"+id+"/approve", ""); st != 403 {
		t.Fatalf("approve without comms:approve: %d", st)
	}
	if st, _ := post(tok.Secret, "/api/v1/status-updates/"+id+"/publish", ""); st != 403 {
		t.Fatalf("publish without comms:approve: %d", st)
	}
	if st, _ := post(a.Token(), "/api/v1/status-updates/"+id+"/publish", ""); st != 409 {
		t.Fatalf("publish before approval: %d", st)
	}
	feed := func() string {
		resp, err := http.Get(a.HTTPURL() + "/status/feed.atom") // public: no token
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("feed: %d %s", resp.StatusCode, b)
		}
		return string(b)
	}
	if strings.Contains(feed(), "Slow checkout") {
		t.Fatal("an unapproved update is on the public feed")
	}
	if st, _ := post(a.Token(), "/api/v1/status-updates/"+id+"/approve", ""); st != 200 {
		t.Fatalf("approve: %d", st)
	}
	if st, _ := post(a.Token(), "/api/v1/status-updates/"+id+"/publish", ""); st != 200 {
		t.Fatalf("publish: %d", st)
	}
	if f := feed(); !strings.Contains(f, "INC-1: Slow checkout") || !strings.Contains(f, `<feed xmlns="http://www.w3.org/2005/Atom">`) {
		t.Fatalf("feed after publishing:\n%s", f)
	}
}

// TestPostmortemServiceOnPostgres runs the post-mortem service alone on
// PostgreSQL beside intake and incident in another process, as `serve`
// does: it builds the timeline from the bus only.
func TestPostmortemServiceOnPostgres(t *testing.T) {
	t.Parallel()
	pgURL := dbtest.PostgresURL(t)
	prefix := dbtest.NewSchemaName() + "_"
	t.Cleanup(func() { dbtest.DropSchema(t, pgURL, prefix+postmortem.Name) })
	srv, err := bus.StartEmbedded(bus.EmbeddedConfig{StoreDir: t.TempDir(), Listen: "127.0.0.1:0", ServerName: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	common := app.Config{HTTPAddr: "127.0.0.1:0", NATSURL: srv.URL, AdminToken: "secret-token", AutoCreateServices: true}
	coreCfg := common
	coreCfg.Services, coreCfg.DataDir = []string{intake.Name, incident.Name}, t.TempDir()
	pmCfg := common
	pmCfg.Services, pmCfg.Postgres, pmCfg.SchemaPrefix = []string{postmortem.Name}, pgURL, prefix
	core := start(t, coreCfg)
	pm := start(t, pmCfg)
	ctx := context.Background()
	cc := client.New(core.HTTPURL(), "secret-token", "")
	cp := client.New(pm.HTTPURL(), "secret-token", "")
	if _, err := cc.SendAlert(ctx, intake.Alert{Service: "pay", DedupKey: "lat", Summary: "latency", Severity: "error"}); err != nil {
		t.Fatal(err)
	}
	waitIncident(t, cc, "INC-1", func(incident.IncidentJSON) bool { return true })
	if _, err := cc.Acknowledge(ctx, "INC-1", "mine"); err != nil {
		t.Fatal(err)
	}
	if _, err := cc.Resolve(ctx, "INC-1", "done"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the timeline on PostgreSQL", func() bool {
		tl, err := cp.TimelineJSON(ctx, "INC-1")
		return err == nil && tl.Incident.Status == "resolved" && tl.Incident.AlertCount == 1 && len(tl.Entries) == 4
	})
	if _, err := cp.CreatePostmortem(ctx, "INC-1", ""); err != nil {
		t.Fatal(err)
	}
	pmDoc, err := cp.GetPostmortem(ctx, "INC-1")
	if err != nil || pmDoc.State != postmortem.StateDraft {
		t.Fatalf("post-mortem on PostgreSQL %+v %v", pmDoc, err)
	}
}
