package app_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/app"
	"github.com/firebreak-dev/firebreak/internal/bus"
	"github.com/firebreak-dev/firebreak/internal/client"
	"github.com/firebreak-dev/firebreak/internal/token"
	"github.com/firebreak-dev/firebreak/services/incident"
	"github.com/firebreak-dev/firebreak/services/intake"
)

// apiStatus is the HTTP status and error of a failed client call (0, nil
// when err is not an API error).
func apiStatus(err error) (int, *client.APIError) {
	var ae *client.APIError
	if errors.As(err, &ae) {
		return ae.Status, ae
	}
	return 0, nil
}

func statusOf(err error) int {
	s, _ := apiStatus(err)
	return s
}

// TestScopedTokens: the admin creates a read-only token; it lists
// incidents, is refused alerts with a 403 naming incidents:write, and after
// revocation gets 401; the bootstrap admin token keeps working throughout.
func TestScopedTokens(t *testing.T) {
	t.Parallel()
	a := start(t, devConfig(t.TempDir()))
	rec := record(t, a.NATSConn())
	ctx := context.Background()
	admin := client.New(a.HTTPURL(), a.Token(), "cli")

	if _, err := admin.SendAlert(ctx, intake.Alert{Service: "db", DedupKey: "disk", Summary: "disk full", Severity: "error"}); err != nil {
		t.Fatal(err)
	}
	waitIncident(t, admin, "INC-1", func(incident.IncidentJSON) bool { return true })

	created, err := admin.CreateToken(ctx, token.Spec{User: "alice", Scopes: []string{token.ScopeIncidentsRead}, Name: "alice's laptop"})
	if err != nil {
		t.Fatal(err)
	}
	if created.Secret == "" || created.User != "alice" || !slices.Equal(created.Scopes, []string{"incidents:read"}) || created.CreatedBy != "admin" {
		t.Fatalf("created %+v", created)
	}
	alice := client.New(a.HTTPURL(), created.Secret, "")

	list, err := alice.ListIncidents(ctx, client.ListOptions{})
	if err != nil || len(list.Items) != 1 {
		t.Fatalf("read-only token lists incidents: %+v %v", list, err)
	}
	_, err = alice.SendAlert(ctx, intake.Alert{Service: "db", DedupKey: "cpu", Summary: "cpu hot", Severity: "warning"})
	if st, ae := apiStatus(err); st != 403 || ae.Code != "missing_scope" || ae.Details["scope"] != "incidents:write" {
		t.Fatalf("read-only token sends an alert: %v", err)
	}
	if _, err := alice.Acknowledge(ctx, "INC-1", ""); statusOf(err) != 403 {
		t.Fatalf("read-only token acknowledges: %v", err)
	}
	if _, err := alice.ListTokens(ctx); statusOf(err) != 403 {
		t.Fatalf("read-only token lists tokens: %v", err)
	}

	tokens, err := admin.ListTokens(ctx)
	if err != nil || len(tokens.Items) != 1 || tokens.Items[0].ID != created.ID || tokens.Items[0].Name != "alice's laptop" {
		t.Fatalf("list tokens: %+v %v", tokens, err)
	}

	revoked, err := admin.RevokeToken(ctx, created.ID)
	if err != nil || revoked.RevokedAt == nil {
		t.Fatalf("revoke: %+v %v", revoked, err)
	}
	if _, err := alice.ListIncidents(ctx, client.ListOptions{}); statusOf(err) != 401 {
		t.Fatalf("revoked token lists incidents: %v", err)
	}
	if _, err := admin.RevokeToken(ctx, created.ID); statusOf(err) != 409 {
		t.Fatalf("second revoke: %v", err)
	}
	if _, err := admin.RevokeToken(ctx, "0123456789abcdef"); statusOf(err) != 404 {
		t.Fatalf("revoke unknown: %v", err)
	}
	_, err = admin.CreateToken(ctx, token.Spec{User: "bob", Scopes: []string{"incidents:read", "everything"}})
	if st, ae := apiStatus(err); st != 400 || ae.Details["field"] != "scopes" {
		t.Fatalf("unknown scope: %v", err)
	}

	if _, err := admin.Acknowledge(ctx, "INC-1", "bootstrap token still works"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "token events", func() bool {
		types := rec.types()
		return slices.Contains(types, events.TypeTokenCreated) && slices.Contains(types, events.TypeTokenRevoked)
	})
	rec.validate(t)
}

// TestScopedTokensAcrossProcesses: a token created through one process
// authenticates at another that shares only NATS, and a revocation made
// through either is refused by both.
func TestScopedTokensAcrossProcesses(t *testing.T) {
	t.Parallel()
	srv, err := bus.StartEmbedded(bus.EmbeddedConfig{StoreDir: t.TempDir(), Listen: "127.0.0.1:0", ServerName: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	common := app.Config{HTTPAddr: "127.0.0.1:0", NATSURL: srv.URL, AdminToken: "secret-token", AutoCreateServices: true}
	inCfg, incCfg := common, common
	inCfg.Services, inCfg.DataDir = []string{intake.Name}, t.TempDir()
	incCfg.Services, incCfg.DataDir = []string{incident.Name}, t.TempDir()
	in := start(t, inCfg)
	inc := start(t, incCfg)
	ctx := context.Background()

	created, err := client.New(inc.HTTPURL(), "secret-token", "").CreateToken(ctx,
		token.Spec{User: "alertmanager", Integration: true, Scopes: []string{token.ScopeIncidentsWrite}})
	if err != nil {
		t.Fatal(err)
	}
	// The intake process has never seen the token; it authenticates it.
	viaIntake := client.New(in.HTTPURL(), created.Secret, "")
	if _, err := viaIntake.SendAlert(ctx, intake.Alert{Service: "pay", DedupKey: "k", Summary: "latency", Severity: "warning"}); err != nil {
		t.Fatal(err)
	}
	waitIncident(t, client.New(inc.HTTPURL(), "secret-token", ""), "INC-1", func(incident.IncidentJSON) bool { return true })

	if _, err := client.New(in.HTTPURL(), "secret-token", "").RevokeToken(ctx, created.ID); err != nil {
		t.Fatal(err)
	}
	viaIncident := client.New(inc.HTTPURL(), created.Secret, "")
	eventually(t, "both processes to refuse the revoked token", func() bool {
		_, e1 := viaIntake.SendAlert(ctx, intake.Alert{Service: "pay", DedupKey: "k", Summary: "latency", Severity: "warning"})
		_, e2 := viaIncident.Declare(ctx, incident.DeclareBody{Title: "x", Service: "pay", Severity: "SEV3"})
		return statusOf(e1) == 401 && statusOf(e2) == 401
	})
}
