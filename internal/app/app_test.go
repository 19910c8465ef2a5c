package app_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/app"
	"github.com/firebreak-dev/firebreak/internal/bus"
	"github.com/firebreak-dev/firebreak/internal/client"
	"github.com/firebreak-dev/firebreak/internal/db/dbtest"
	"github.com/firebreak-dev/firebreak/schemas"
	"github.com/firebreak-dev/firebreak/services/incident"
	"github.com/firebreak-dev/firebreak/services/intake"
)

// running is an App serving in the background.
type running struct {
	*app.App
	t      testing.TB
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

func start(t testing.TB, cfg app.Config) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	r := &running{App: a, t: t, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- a.Run(ctx) }()
	t.Cleanup(r.stop)
	waitReady(t, a.HTTPURL())
	return r
}

func (r *running) stop() {
	r.once.Do(func() {
		r.cancel()
		select {
		case err := <-r.done:
			if err != nil {
				r.t.Errorf("Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			r.t.Errorf("App did not stop within 30s")
		}
	})
}

func waitReady(t testing.TB, url string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s never became ready", url)
}

// recorder collects every message on fb.> and checks it against its schema.
type recorder struct {
	mu   sync.Mutex
	msgs []*nats.Msg
}

func record(t *testing.T, nc *nats.Conn) *recorder {
	t.Helper()
	rec := &recorder{}
	sub, err := nc.Subscribe("fb.>", func(m *nats.Msg) {
		rec.mu.Lock()
		rec.msgs = append(rec.msgs, m)
		rec.mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	return rec
}

func (rec *recorder) types() []string {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var out []string
	for _, m := range rec.msgs {
		if e, err := events.Decode(m.Data); err == nil {
			out = append(out, e.Type)
		}
	}
	return out
}

func (rec *recorder) validate(t *testing.T) {
	t.Helper()
	v, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, m := range rec.msgs {
		if strings.HasPrefix(m.Subject, events.SubjectDLQPrefix) {
			continue
		}
		if err := v.Validate(m.Data); err != nil {
			t.Errorf("event on %s does not match its schema: %v\n%s", m.Subject, err, m.Data)
		}
	}
}

func eventually(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if f() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func devConfig(dir string) app.Config {
	return app.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", GenerateToken: true, AutoCreateServices: true}
}

func waitIncident(t *testing.T, c *client.Client, ref string, ok func(incident.IncidentJSON) bool) incident.IncidentJSON {
	t.Helper()
	var (
		got     incident.IncidentJSON
		lastErr error
	)
	defer func() {
		if t.Failed() {
			t.Logf("last answer for %s: %+v (error: %v)", ref, got, lastErr)
		}
	}()
	eventually(t, "incident "+ref, func() bool {
		i, err := c.GetIncident(context.Background(), ref)
		if err != nil {
			lastErr = err
			return false
		}
		got = i
		return ok(i)
	})
	return got
}

// TestSliceEndToEnd drives the foundation's slice through real HTTP, real
// embedded JetStream and real SQLite: alert → incident → repeat → ack →
// note → resolve → re-trigger opens a new incident, with every event on the
// bus matching its schema.
func TestSliceEndToEnd(t *testing.T) {
	t.Parallel()
	a := start(t, devConfig(t.TempDir()))
	rec := record(t, a.NATSConn())
	ctx := context.Background()
	c := client.New(a.HTTPURL(), a.Token(), "cli")

	alert := intake.Alert{Service: "checkout", DedupKey: "5xx", Summary: "5xx above 5%", Severity: "critical"}
	acc, err := c.SendAlert(ctx, alert)
	if err != nil {
		t.Fatal(err)
	}
	if acc.Status != "accepted" || acc.DedupKey != "5xx" {
		t.Fatalf("accept answer %+v", acc)
	}
	inc := waitIncident(t, c, "INC-1", func(i incident.IncidentJSON) bool { return true })
	if inc.Status != incident.StatusTriggered || inc.Severity != "SEV1" || inc.Service != "checkout" || inc.Title != alert.Summary {
		t.Fatalf("opened incident %+v", inc)
	}
	if _, err := c.SendAlert(ctx, alert); err != nil {
		t.Fatal(err)
	}
	waitIncident(t, c, "INC-1", func(i incident.IncidentJSON) bool { return i.AlertCount == 2 })

	if inc, err = c.Acknowledge(ctx, "INC-1", "on it"); err != nil || inc.Status != incident.StatusAcknowledged || inc.AcknowledgedBy != "admin" {
		t.Fatalf("ack: %+v %v", inc, err)
	}
	if _, err = c.AddNote(ctx, inc.ID, "rolled back deploy 118"); err != nil {
		t.Fatal(err)
	}
	if inc, err = c.Resolve(ctx, "1", "fixed"); err != nil || inc.Status != incident.StatusResolved {
		t.Fatalf("resolve: %+v %v", inc, err)
	}
	var ae *client.APIError
	if _, err = c.Resolve(ctx, "INC-1", ""); !errors.As(err, &ae) || ae.Status != 409 || ae.Code != "illegal_transition" {
		t.Fatalf("second resolve: %v", err)
	}
	shown, err := c.GetIncident(ctx, "INC-1")
	if err != nil || len(shown.Notes) != 1 || shown.Notes[0].Text != "rolled back deploy 118" || shown.Version != 5 {
		t.Fatalf("show after resolve: %+v %v", shown, err)
	}
	if shown.Notes[0].Author.Channel != events.ChannelCLI {
		t.Fatalf("note channel %q, want cli", shown.Notes[0].Author.Channel)
	}

	// A trigger after resolve opens a new incident.
	if _, err := c.SendAlert(ctx, alert); err != nil {
		t.Fatal(err)
	}
	waitIncident(t, c, "INC-2", func(i incident.IncidentJSON) bool { return i.DedupKey == "5xx" })
	// The alert source resolves it.
	if _, err := c.SendAlert(ctx, intake.Alert{Service: "checkout", DedupKey: "5xx", EventAction: "resolve"}); err != nil {
		t.Fatal(err)
	}
	waitIncident(t, c, "INC-2", func(i incident.IncidentJSON) bool { return i.Status == incident.StatusResolved })

	want := []string{events.TypeAlertReceived, events.TypeIncidentTriggered, events.CmdIncidentAcknowledge,
		events.TypeIncidentAcknowledged, events.CmdIncidentAddNote, events.TypeIncidentNoteAdded,
		events.CmdIncidentResolve, events.TypeIncidentResolved, events.TypeCommandRejected}
	eventually(t, "every event type on the bus", func() bool {
		got := rec.types()
		for _, w := range want {
			found := false
			for _, g := range got {
				found = found || g == w
			}
			if !found {
				return false
			}
		}
		return true
	})
	rec.validate(t)

	page, err := c.ListIncidents(ctx, client.ListOptions{Limit: 1})
	if err != nil || len(page.Items) != 1 || page.Items[0].Key != "INC-2" || page.NextCursor == "" {
		t.Fatalf("page 1: %+v %v", page, err)
	}
	page, err = c.ListIncidents(ctx, client.ListOptions{Limit: 1, Cursor: page.NextCursor})
	if err != nil || len(page.Items) != 1 || page.Items[0].Key != "INC-1" {
		t.Fatalf("page 2: %+v %v", page, err)
	}
}

// TestBadInput: every kind of bad request gets a precise 4xx JSON error and
// changes nothing.
func TestBadInput(t *testing.T) {
	t.Parallel()
	a := start(t, devConfig(t.TempDir()))
	ctx := context.Background()
	c := client.New(a.HTTPURL(), a.Token(), "")
	if _, err := c.SendAlert(ctx, intake.Alert{Service: "db", DedupKey: "disk", Summary: "disk full", Severity: "error"}); err != nil {
		t.Fatal(err)
	}
	before := waitIncident(t, c, "INC-1", func(incident.IncidentJSON) bool { return true })
	big := `{"service":"db","summary":"` + strings.Repeat("x", 600*1024) + `","severity":"info"}`
	tests := []struct {
		name, method, path, token, body string
		status                          int
		code, field                     string
	}{
		{"malformed json", "POST", "/api/v1/alerts", a.Token(), `{"service":`, 400, "malformed_json", ""},
		{"wrong type", "POST", "/api/v1/alerts", a.Token(), `{"service":"db","summary":"x","severity":7}`, 400, "invalid_field", "severity"},
		{"missing required", "POST", "/api/v1/alerts", a.Token(), `{"summary":"x","severity":"info"}`, 400, "invalid_field", "service"},
		{"unknown field", "POST", "/api/v1/alerts", a.Token(), `{"service":"db","summary":"x","severity":"info","sevrity":"x"}`, 400, "invalid_field", "sevrity"},
		{"oversize", "POST", "/api/v1/alerts", a.Token(), big, 413, "body_too_large", ""},
		{"no token", "POST", "/api/v1/alerts", "", `{}`, 401, "unauthorized", ""},
		{"bad token", "GET", "/api/v1/incidents", "nope", ``, 401, "unauthorized", ""},
		{"unknown incident", "GET", "/api/v1/incidents/INC-999", a.Token(), ``, 404, "incident_not_found", ""},
		{"unknown incident ack", "POST", "/api/v1/incidents/INC-999/acknowledge", a.Token(), ``, 404, "incident_not_found", ""},
		{"bad status filter", "GET", "/api/v1/incidents?status=sleeping", a.Token(), ``, 400, "invalid_field", "status"},
		{"bad limit", "GET", "/api/v1/incidents?limit=5000", a.Token(), ``, 400, "invalid_field", "limit"},
		{"bad cursor", "GET", "/api/v1/incidents?cursor=zzz", a.Token(), ``, 400, "invalid_field", "cursor"},
		{"empty note", "POST", "/api/v1/incidents/INC-1/notes", a.Token(), `{"note":"  "}`, 400, "invalid_field", "note"},
		{"note wrong type", "POST", "/api/v1/incidents/INC-1/notes", a.Token(), `{"note":["a"]}`, 400, "invalid_field", "note"},
		{"stale version", "POST", "/api/v1/incidents/INC-1/acknowledge", a.Token(), `{"expected_version":99}`, 409, "stale_version", ""},
		{"no route", "GET", "/api/v1/nothing", a.Token(), ``, 404, "no_route", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, a.HTTPURL()+tt.path, bytes.NewBufferString(tt.body))
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body struct {
				Error struct {
					Code    string         `json:"code"`
					Message string         `json:"message"`
					Details map[string]any `json:"details"`
				} `json:"error"`
			}
			if err := jsonDecode(resp, &body); err != nil {
				t.Fatalf("status %d, body not JSON: %v", resp.StatusCode, err)
			}
			if resp.StatusCode != tt.status || body.Error.Code != tt.code || body.Error.Message == "" {
				t.Fatalf("got %d %+v, want %d %s", resp.StatusCode, body.Error, tt.status, tt.code)
			}
			if tt.field != "" && body.Error.Details["field"] != tt.field {
				t.Fatalf("error names field %v, want %s", body.Error.Details["field"], tt.field)
			}
		})
	}
	after, err := c.GetIncident(ctx, "INC-1")
	if err != nil || after.Version != before.Version || after.Status != before.Status || len(after.Notes) != 0 {
		t.Fatalf("bad input changed state: before %+v after %+v (%v)", before, after, err)
	}
	list, err := c.ListIncidents(ctx, client.ListOptions{})
	if err != nil || len(list.Items) != 1 {
		t.Fatalf("bad input created incidents: %+v %v", list, err)
	}
}

// TestRestartKeepsState: a graceful stop and a restart on the same data
// directory keep every incident, and consumers resume.
func TestRestartKeepsState(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := context.Background()
	a := start(t, devConfig(dir))
	c := client.New(a.HTTPURL(), a.Token(), "")
	for _, k := range []string{"a", "b", "c"} {
		if _, err := c.SendAlert(ctx, intake.Alert{Service: "api", DedupKey: k, Summary: "alert " + k, Severity: "warning"}); err != nil {
			t.Fatal(err)
		}
	}
	waitIncident(t, c, "INC-3", func(incident.IncidentJSON) bool { return true })
	if _, err := c.Acknowledge(ctx, "INC-2", ""); err != nil {
		t.Fatal(err)
	}
	a.stop()

	b := start(t, devConfig(dir))
	c = client.New(b.HTTPURL(), b.Token(), "")
	if b.Token() != a.Token() {
		t.Fatalf("admin token changed across restart")
	}
	if _, err := c.SendAlert(ctx, intake.Alert{Service: "api", DedupKey: "a", Summary: "alert a", Severity: "warning"}); err != nil {
		t.Fatal(err)
	}
	waitIncident(t, c, "INC-1", func(i incident.IncidentJSON) bool { return i.AlertCount == 2 })
	if i, err := c.GetIncident(ctx, "INC-2"); err != nil || i.Status != incident.StatusAcknowledged {
		t.Fatalf("INC-2 after restart: %+v %v", i, err)
	}
	list, err := c.ListIncidents(ctx, client.ListOptions{})
	if err != nil || len(list.Items) != 3 {
		t.Fatalf("incidents after restart: %d %v", len(list.Items), err)
	}
}

// TestSeparateServicesOnPostgres runs intake and incident as two processes'
// worth of App (as `firebreak serve` does) over one NATS server reached by
// URL, with the incident service on PostgreSQL.
func TestSeparateServicesOnPostgres(t *testing.T) {
	t.Parallel()
	pgURL := dbtest.PostgresURL(t)
	prefix := dbtest.NewSchemaName() + "_"
	t.Cleanup(func() { dbtest.DropSchema(t, pgURL, prefix+incident.Name) })
	srv, err := bus.StartEmbedded(bus.EmbeddedConfig{StoreDir: t.TempDir(), Listen: "127.0.0.1:0", ServerName: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	common := app.Config{HTTPAddr: "127.0.0.1:0", NATSURL: srv.URL, AdminToken: "secret-token", AutoCreateServices: true}
	inCfg := common
	inCfg.Services = []string{intake.Name}
	incCfg := common
	incCfg.Services, incCfg.Postgres, incCfg.SchemaPrefix = []string{incident.Name}, pgURL, prefix
	in := start(t, inCfg)
	inc := start(t, incCfg)

	ctx := context.Background()
	ci := client.New(in.HTTPURL(), "secret-token", "")
	cs := client.New(inc.HTTPURL(), "secret-token", "")
	for i := range 5 {
		if _, err := ci.SendAlert(ctx, intake.Alert{Service: "pay", DedupKey: "k" + strconv.Itoa(i%2), Summary: "latency", Severity: "warning"}); err != nil {
			t.Fatal(err)
		}
	}
	waitIncident(t, cs, "INC-1", func(i incident.IncidentJSON) bool { return i.AlertCount == 3 })
	waitIncident(t, cs, "INC-2", func(i incident.IncidentJSON) bool { return i.AlertCount == 2 })
	if _, err := cs.Acknowledge(ctx, "INC-1", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.Resolve(ctx, "INC-1", ""); err != nil {
		t.Fatal(err)
	}
	// The intake process does not serve incidents.
	var ae *client.APIError
	if _, err := ci.GetIncident(ctx, "INC-1"); !errors.As(err, &ae) || ae.Status != 404 {
		t.Fatalf("intake answered incidents: %v", err)
	}
	// A restarted incident service resumes from PostgreSQL.
	inc.stop()
	inc = start(t, incCfg)
	cs = client.New(inc.HTTPURL(), "secret-token", "")
	if got, err := cs.GetIncident(ctx, "INC-1"); err != nil || got.Status != incident.StatusResolved {
		t.Fatalf("after restart: %+v %v", got, err)
	}
}
