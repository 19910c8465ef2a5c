package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/integration"
	"github.com/firebreak-dev/firebreak/internal/token"
	"github.com/firebreak-dev/firebreak/services/audit"
	"github.com/firebreak-dev/firebreak/services/intake"
	"github.com/firebreak-dev/firebreak/services/intake/grafana"
	"github.com/firebreak-dev/firebreak/services/slack"
)

// TestRefusalsOutsideAuthenticationAudited: the refusals the intake
// endpoints, Grafana's and Slack's signature checks and a four-eyes
// approval decide are audited as auth.denied with a precise reason, once
// per route and reason however many came (throttled), without any key or
// signature; the endpoints' answers are those they always gave (the
// PagerDuty API answers a wrong-type key as an unknown one).
func TestRefusalsOutsideAuthenticationAudited(t *testing.T) {
	t.Parallel()
	h := startSlack(t, false)
	base, admin := h.HTTPURL(), h.c
	ctx := context.Background()

	pd := createIntegration(t, admin, "checkout", integration.TypeEventsV2)
	am := createIntegration(t, admin, "checkout", integration.TypeAlertmanager)
	gf := createIntegration(t, admin, "checkout", integration.TypeGrafana)
	event := func(key string) []byte {
		return []byte(`{"routing_key":"` + key + `","event_action":"trigger","payload":{"summary":"x","source":"x","severity":"info"}}`)
	}
	unknownKey := strings.Repeat("z", len(pd.Key))

	// PagerDuty: three unknown keys and a key of another type, one answer.
	var answers [][]byte
	for range 3 {
		st, b := post(t, base+"/v2/enqueue", nil, event(unknownKey))
		if st != 400 {
			t.Fatalf("unknown routing key: %d %s", st, b)
		}
		answers = append(answers, b)
	}
	st, b := post(t, base+"/v2/change/enqueue", nil, []byte(`{"routing_key":"`+am.Key+`","payload":{"summary":"deploy","source":"ci"}}`))
	if st != 400 || !bytes.Equal(b, answers[0]) {
		t.Fatalf("alertmanager key as routing key: %d %s, want 400 %s", st, b, answers[0])
	}
	// Alertmanager and generic webhooks.
	amURL, genURL := base+"/api/v1/integrations/alertmanager", base+"/api/v1/integrations/generic"
	if st, _ := post(t, amURL, nil, []byte(`{}`)); st != 401 {
		t.Fatalf("alertmanager without key: %d", st)
	}
	if st, _ := post(t, amURL, map[string]string{"Authorization": "Bearer " + unknownKey}, []byte(`{}`)); st != 401 {
		t.Fatalf("alertmanager unknown key: %d", st)
	}
	if st, _ := post(t, genURL, map[string]string{"Authorization": "Bearer " + am.Key}, []byte(`{}`)); st != 401 {
		t.Fatalf("generic with an alertmanager key: %d", st)
	}
	// Grafana.
	body, err := os.ReadFile(filepath.Join("..", "..", "services", "intake", "grafana", "testdata", "docs_firing.json"))
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte(gf.SigningSecret)
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	old := strconv.FormatInt(time.Now().Add(-time.Hour).Unix(), 10)
	badSig := grafana.Sign([]byte("wrong"), body, ts)
	gfURL := base + "/api/v1/integrations/grafana/" + gf.ID
	for name, tt := range map[string]struct {
		url string
		hdr map[string]string
	}{
		"unknown integration": {base + "/api/v1/integrations/grafana/0123456789abcdef", map[string]string{grafana.SignatureHeader: grafana.Sign(secret, body, ts), "X-Grafana-Alerting-Timestamp": ts}},
		"bad signature":       {gfURL, map[string]string{grafana.SignatureHeader: badSig, "X-Grafana-Alerting-Timestamp": ts}},
		"no signature":        {gfURL, nil},
		"stale":               {gfURL, map[string]string{grafana.SignatureHeader: grafana.Sign(secret, body, old), "X-Grafana-Alerting-Timestamp": old}},
	} {
		if st, b := post(t, tt.url, tt.hdr, body); st != 401 {
			t.Fatalf("grafana %s: %d %s", name, st, b)
		}
	}
	// Slack: unsigned, forged, stale, and a replay of a valid request.
	cmd := []byte(url.Values{"command": {"/incident"}, "text": {"help"}, "user_id": {h.alice.ID}, "user_name": {"alice"},
		"channel_id": {h.channel}, "team_id": {"T0TEAM0001"}, "response_url": {"https://hooks.slack.com/commands/1"}}.Encode())
	forged := slack.SignedHeader([]byte("not-the-secret"), time.Now(), cmd)
	stale := slack.SignedHeader([]byte(testSigningSecret), time.Now().Add(-6*time.Minute), cmd)
	valid := h.signed(cmd)
	for name, hdr := range map[string]http.Header{"unsigned": nil, "forged": forged, "stale": stale} {
		if st, b := postSigned(t, base, "/slack/commands", cmd, hdr); st != 401 {
			t.Fatalf("slack %s: %d %s", name, st, b)
		}
	}
	if st, b := postSigned(t, base, "/slack/commands", cmd, valid); st != 200 {
		t.Fatalf("slack valid: %d %s", st, b)
	}
	if st, b := postSigned(t, base, "/slack/commands", cmd, valid); st != 401 {
		t.Fatalf("slack replay: %d %s", st, b)
	}
	// Four eyes: dave drafts a status update and cannot approve it.
	if _, err := admin.SendAlert(ctx, intake.Alert{Service: "checkout", DedupKey: "5xx", Summary: "5xx above 5%", Severity: "critical"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the projection", func() bool { _, err := admin.TimelineJSON(ctx, "INC-1"); return err == nil })
	dave, err := admin.CreateToken(ctx, token.Spec{User: "dave", Scopes: []string{token.ScopeIncidentsWrite, token.ScopeCommsApprove}})
	if err != nil {
		t.Fatal(err)
	}
	var draft struct {
		ID string `json:"id"`
	}
	if st := bearerJSON(t, http.MethodPost, base+"/api/v1/incidents/INC-1/status-updates", dave.Secret,
		`{"audience":"external","status":"investigating","title":"Slow checkout","body":"We are looking into it."}`, &draft); st != 201 {
		t.Fatalf("draft: %d", st)
	}
	if st := bearerJSON(t, http.MethodPost, base+"/api/v1/status-updates/"+draft.ID+"/approve", dave.Secret, "", nil); st != 403 {
		t.Fatalf("self-approval: %d", st)
	}

	type key struct{ route, reason string }
	want := map[key]func(events.AuthDenied) bool{
		{"POST /v2/enqueue", events.DenyInvalidIntegrationKey}:                       func(d events.AuthDenied) bool { return d.Status == 400 && d.Integration == "" },
		{"POST /v2/change/enqueue", events.DenyIntegrationType}:                      func(d events.AuthDenied) bool { return d.Status == 400 && d.Integration == am.ID },
		{"POST /api/v1/integrations/alertmanager", events.DenyMissingIntegrationKey}: func(d events.AuthDenied) bool { return d.Status == 401 },
		{"POST /api/v1/integrations/alertmanager", events.DenyInvalidIntegrationKey}: func(d events.AuthDenied) bool { return d.Status == 401 },
		{"POST /api/v1/integrations/generic", events.DenyIntegrationType}:            func(d events.AuthDenied) bool { return d.Integration == am.ID },
		{"POST /api/v1/integrations/grafana/{integration_id}", events.DenyUnknownIntegration}: func(d events.AuthDenied) bool {
			return d.Integration == "0123456789abcdef"
		},
		{"POST /api/v1/integrations/grafana/{integration_id}", events.DenyInvalidSignature}: func(d events.AuthDenied) bool { return d.Integration == "" },
		{"POST /api/v1/integrations/grafana/{integration_id}", events.DenyMissingSignature}: func(d events.AuthDenied) bool { return true },
		{"POST /api/v1/integrations/grafana/{integration_id}", events.DenyStaleSignature}:   func(d events.AuthDenied) bool { return true },
		{"POST /slack/commands", events.DenyMissingSignature}:                               func(d events.AuthDenied) bool { return true },
		{"POST /slack/commands", events.DenyInvalidSignature}:                               func(d events.AuthDenied) bool { return true },
		{"POST /slack/commands", events.DenyStaleSignature}:                                 func(d events.AuthDenied) bool { return true },
		{"POST /slack/commands", events.DenyReplayedSignature}:                              func(d events.AuthDenied) bool { return true },
		{"POST /api/v1/status-updates/{id}/approve", "self_approval"}: func(d events.AuthDenied) bool {
			return d.Status == 403 && d.Principal == "dave" && d.Scope == token.ScopeCommsApprove && d.TokenID == dave.ID
		},
	}
	var got map[key][]events.AuthDenied
	eventually(t, "every refusal in the audit log", func() bool {
		got = map[key][]events.AuthDenied{}
		for _, env := range auditEvents(t, h.running, events.TypeAuthDenied, "") {
			d := deniedData(t, env)
			got[key{d.Route, d.Reason}] = append(got[key{d.Route, d.Reason}], d)
		}
		return len(got) >= len(want)
	})
	for k, ok := range want {
		ds := got[k]
		if len(ds) != 1 || !ok(ds[0]) || ds[0].RemoteAddr != "127.0.0.1" {
			t.Errorf("%s %s: %d records %+v", k.route, k.reason, len(ds), ds)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d kinds of auth.denied records, want %d: %v", len(got), len(want), got)
	}

	// No key, secret or signature reached the audit log.
	var list audit.ListJSON
	auditGet(t, h.running, "/api/v1/audit?limit=1000", &list)
	dsec := dave.Secret[strings.LastIndex(dave.Secret, "_")+1:]
	for _, r := range list.Items {
		for _, s := range []string{pd.Key, am.Key, unknownKey, gf.SigningSecret, badSig, forged.Get(slack.HeaderSignature),
			valid.Get(slack.HeaderSignature), testSigningSecret, dsec} {
			if strings.Contains(r.Entry, s) {
				t.Fatalf("audit record %d (%s) holds a secret: %s", r.Seq, r.Type, r.Entry)
			}
		}
	}
}

// bearerJSON sends body (JSON, or none) with a bearer token and decodes
// the answer into out (when not nil).
func bearerJSON(t *testing.T, method, url, secret, body string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+secret)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode
}
