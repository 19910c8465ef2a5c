package app_test

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/app"
	"github.com/firebreak-dev/firebreak/internal/bus"
	"github.com/firebreak-dev/firebreak/internal/client"
	"github.com/firebreak-dev/firebreak/internal/db/dbtest"
	"github.com/firebreak-dev/firebreak/services/incident"
	"github.com/firebreak-dev/firebreak/services/vuln"
	"github.com/firebreak-dev/firebreak/services/vuln/policy"
)

// TestVulnBreachDeclaresIncident: a High vulnerability of a cloud product
// warns at 50 % of its six weeks and, at 100 %, declares an
// incident on the product's owning service through the bus; the incident
// service opens it with the CVSS-derived severity, and the vulnerability
// links it. Actively exploiting another one opens a SEV1.
func TestVulnBreachDeclaresIncident(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Now().UTC().Truncate(time.Second)}
	cfg := devConfig(t.TempDir())
	cfg.Now = clock.Now
	a := start(t, cfg)
	rec := record(t, a.NATSConn())
	ctx := context.Background()
	c := client.New(a.HTTPURL(), a.Token(), "cli")

	if _, err := c.PutProduct(ctx, vuln.Product{Name: "web", Hosting: policy.Cloud, Service: "checkout"}); err != nil {
		t.Fatal(err)
	}
	v, err := c.CreateVuln(ctx, vuln.NewVuln{Title: "SSRF in webhooks", Product: "web", Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"})
	if err != nil {
		t.Fatal(err)
	}
	count := func(typ string) int {
		n := 0
		for _, ty := range rec.types() {
			if ty == typ {
				n++
			}
		}
		return n
	}
	clock.Add(3 * policy.Week)
	eventually(t, "the 50% warning", func() bool { return count(events.TypeVulnSLAWarning) == 1 })
	clock.Add(3 * policy.Week)
	eventually(t, "the breach", func() bool { return count(events.TypeVulnSLABreached) == 1 })
	inc := waitIncident(t, c, "INC-1", func(i incident.IncidentJSON) bool { return true })
	if inc.Service != "checkout" || inc.Severity != "SEV2" || !strings.Contains(inc.Title, v.Key) {
		t.Errorf("incident %+v", inc)
	}
	got, err := c.GetVuln(ctx, v.Key)
	if err != nil || got.Incident != inc.ID || got.SLA.State != vuln.SLABreached {
		t.Errorf("vulnerability after the breach: incident %q (want %s), sla %s, %v", got.Incident, inc.ID, got.SLA.State, err)
	}
	// The 80 % warning fell between the two steps; the breach supersedes
	// it: a late timer announces only the highest threshold crossed.
	if n := count(events.TypeVulnSLAWarning); n != 1 {
		t.Errorf("%d warnings, want 1", n)
	}

	crit, err := c.CreateVuln(ctx, vuln.NewVuln{Title: "RCE in uploads", Product: "web", Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"})
	if err != nil {
		t.Fatal(err)
	}
	ex, err := a.Vuln.MarkExploited(ctx, crit.Key, vuln.ExploitedRequest{Note: "seen in WAF logs"}, events.Actor{Kind: events.ActorUser, ID: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	sec := waitIncident(t, c, ex.Incident, func(i incident.IncidentJSON) bool { return true })
	if sec.Severity != "SEV1" || sec.Service != "checkout" {
		t.Errorf("security incident %+v", sec)
	}
	rec.validate(t)
	if !slices.Contains(rec.types(), events.CmdIncidentDeclare) {
		t.Error("no incident.declare on the bus")
	}
}

// TestVulnOnPostgres runs the vuln service alone on PostgreSQL, as
// `firebreak serve vuln` does: import, re-import, restart.
func TestVulnOnPostgres(t *testing.T) {
	t.Parallel()
	pgURL := dbtest.PostgresURL(t)
	prefix := dbtest.NewSchemaName() + "_"
	t.Cleanup(func() { dbtest.DropSchema(t, pgURL, prefix+vuln.Name) })
	srv, err := bus.StartEmbedded(bus.EmbeddedConfig{StoreDir: t.TempDir(), Listen: "127.0.0.1:0", ServerName: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	cfg := app.Config{HTTPAddr: "127.0.0.1:0", NATSURL: srv.URL, AdminToken: "secret-token", Services: []string{vuln.Name},
		Postgres: pgURL, SchemaPrefix: prefix}
	a := start(t, cfg)
	ctx := context.Background()
	c := client.New(a.HTTPURL(), "secret-token", "")
	if _, err := c.PutProduct(ctx, vuln.Product{Name: "web", Hosting: policy.DataCenter, Service: "checkout"}); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open("../../services/vuln/scan/testdata/osv.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := c.ImportScan(ctx, "web", "osv", f)
	if err != nil || res.Created != 3 {
		t.Fatalf("import %+v %v", res, err)
	}
	a.stop()
	a = start(t, cfg)
	c = client.New(a.HTTPURL(), "secret-token", "")
	l, err := c.ListVulns(ctx, client.VulnListOptions{})
	if err != nil || len(l.Vulnerabilities) != 3 || l.Vulnerabilities[0].Hosting != policy.DataCenter {
		t.Fatalf("after restart: %+v %v", l, err)
	}
}
