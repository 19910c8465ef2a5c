package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/app"
	"github.com/firebreak-dev/firebreak/internal/client"
	"github.com/firebreak-dev/firebreak/services/audit"
	"github.com/firebreak-dev/firebreak/services/incident"
	"github.com/firebreak-dev/firebreak/services/intake"
)

func auditGet(t *testing.T, a *running, path string, v any) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, a.HTTPURL()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+a.Token())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK && v != nil {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode
}

// TestAuditEndToEnd: an alert raised and its incident acknowledged through
// the API leave, in the audit log, the alert, the trigger, the acknowledge
// command and the acknowledgement, each effect after its cause; the chain
// verifies, with a checkpoint signed by the key dev generated.
func TestAuditEndToEnd(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a := start(t, devConfig(dir))
	ctx := context.Background()
	c := client.New(a.HTTPURL(), a.Token(), "cli")

	if _, err := c.SendAlert(ctx, intake.Alert{Service: "checkout", DedupKey: "5xx", Summary: "5xx above 5%", Severity: "critical"}); err != nil {
		t.Fatal(err)
	}
	inc := waitIncident(t, c, "INC-1", func(incident.IncidentJSON) bool { return true })
	if _, err := c.Acknowledge(ctx, "INC-1", "on it"); err != nil {
		t.Fatal(err)
	}

	want := []string{events.TypeAlertReceived, events.TypeIncidentTriggered, events.CmdIncidentAcknowledge, events.TypeIncidentAcknowledged}
	var list audit.ListJSON
	eventually(t, "the audit log to hold the alert, trigger, command and acknowledgement", func() bool {
		list = audit.ListJSON{}
		auditGet(t, a, "/api/v1/audit", &list)
		n := 0
		for _, r := range list.Items {
			if slices.Contains(want, r.Type) {
				n++
			}
		}
		return n >= len(want)
	})
	var got []string
	for _, r := range list.Items {
		if slices.Contains(want, r.Type) {
			got = append(got, r.Type)
		}
	}
	// Records from one stream keep their order, and an effect is logged
	// after its cause; records of different streams (the command on FB_CMD,
	// the trigger on FB_EVT) that are not cause and effect may interleave.
	pos := func(typ string) int { return slices.Index(got, typ) }
	if len(got) != len(want) || slices.Contains([]int{pos(want[0]), pos(want[1]), pos(want[2]), pos(want[3])}, -1) ||
		pos(events.TypeAlertReceived) > pos(events.TypeIncidentTriggered) ||
		pos(events.CmdIncidentAcknowledge) > pos(events.TypeIncidentAcknowledged) ||
		pos(events.TypeIncidentTriggered) > pos(events.TypeIncidentAcknowledged) {
		t.Fatalf("audit log order %v: want each of %v once, every effect after its cause", got, want)
	}
	for i, r := range list.Items {
		if r.Seq != int64(i+1) {
			t.Fatalf("record %d has seq %d", i, r.Seq)
		}
	}

	var byIncident audit.ListJSON
	if st := auditGet(t, a, "/api/v1/audit?incident="+inc.ID+"&type="+events.TypeIncidentAcknowledged, &byIncident); st != 200 ||
		len(byIncident.Items) != 1 || byIncident.Items[0].ActorID != "admin" {
		t.Fatalf("filtered listing %d %+v", st, byIncident)
	}
	if st := auditGet(t, a, "/api/v1/audit?since=yesterday", nil); st != 400 {
		t.Fatalf("bad since: %d", st)
	}

	// A checkpoint on demand, then verification over the API.
	req, _ := http.NewRequest(http.MethodPost, a.HTTPURL()+"/api/v1/audit/checkpoints", nil)
	req.Header.Set("Authorization", "Bearer "+a.Token())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("checkpoint: %d", resp.StatusCode)
	}
	var rep audit.Report
	if st := auditGet(t, a, "/api/v1/audit/verify", &rep); st != 200 || !rep.OK || rep.Records < 4 || rep.Checkpoints != 1 {
		t.Fatalf("verify: %d %+v", st, rep)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "audit.key")); err != nil || len(b) == 0 {
		t.Fatalf("dev did not write its audit key: %v", err)
	}
}

// TestAuditSigningKeyFile: serve's --audit-signing-key-file is the key the
// checkpoints are signed with, and a file that is missing or holds no key
// stops the start instead of running unsigned.
func TestAuditSigningKeyFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const seed = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=" // bytes 0..31
	keyFile := filepath.Join(dir, "audit-signing-key")
	if err := os.WriteFile(keyFile, []byte(seed+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	want, err := audit.ParseSigningKey(seed)
	if err != nil {
		t.Fatal(err)
	}
	cfg := devConfig(filepath.Join(dir, "data"))
	cfg.Services, cfg.GenerateToken, cfg.AdminToken = []string{audit.Name}, false, "test-admin-token"
	cfg.AuditSigningKeyFile = keyFile
	a := start(t, cfg)
	if got := a.Audit.PublicKey(); got != want.PublicKey() {
		t.Errorf("checkpoints verify with %s, want the key file's %s", got, want.PublicKey())
	}
	if _, err := os.Stat(a.AuditKeyFile()); !os.IsNotExist(err) {
		t.Errorf("a key was generated in the data directory beside the key file: %v", err)
	}

	bad := filepath.Join(dir, "bad-key")
	if err := os.WriteFile(bad, []byte("not base64!"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{filepath.Join(dir, "missing"), bad} {
		cfg := devConfig(filepath.Join(dir, "data2"))
		cfg.Services, cfg.AuditSigningKeyFile = []string{audit.Name}, f
		if a, err := app.New(t.Context(), cfg); err == nil {
			a.Close()
			t.Errorf("started with the audit signing key file %s", f)
		} else if !strings.Contains(err.Error(), "audit signing key") {
			t.Errorf("error %q does not say the signing key is the problem", err)
		}
	}
}
