package grafana

import (
	"encoding/json"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/internal/fault"
	"github.com/firebreak-dev/firebreak/services/intake/alertmanager"
)

// Fixtures: testdata/docs_firing.json is the example body of grafana/grafana
// docs/sources/alerting/configure-notifications/manage-contact-points/
// integrations/webhook-notifier.md; resolved.json is its first alert
// resolved, with the older valueString and the newer ruleUID fields
// (templates.ExtendedAlert in grafana/alerting).
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var secret = []byte("s3cr3t-shared-with-grafana")

func TestVerify(t *testing.T) {
	t.Parallel()
	body := fixture(t, "docs_firing.json")
	now := time.Unix(1_700_000_000, 0)
	ts := strconv.FormatInt(now.Unix(), 10)
	window := 5 * time.Minute
	old := strconv.FormatInt(now.Add(-6*time.Minute).Unix(), 10)
	future := strconv.FormatInt(now.Add(6*time.Minute).Unix(), 10)
	tests := []struct {
		name    string
		sig, ts string
		body    []byte
		window  time.Duration
		want    error // nil = valid
	}{
		{"body only", Sign(secret, body, ""), "", body, window, nil},
		{"with timestamp", Sign(secret, body, ts), ts, body, window, nil},
		{"upper-case hex", strings.ToUpper(Sign(secret, body, ts)), ts, body, window, nil},
		{"within window, slightly ahead", Sign(secret, body, strconv.FormatInt(now.Unix()+30, 10)), strconv.FormatInt(now.Unix()+30, 10), body, window, nil},
		{"stale but no window", Sign(secret, body, old), old, body, 0, nil},
		{"missing", "", ts, body, window, ErrNoSignature},
		{"other secret", Sign([]byte("other"), body, ts), ts, body, window, ErrBadSignature},
		{"tampered body", Sign(secret, body, ts), ts, append([]byte(" "), body...), window, ErrBadSignature},
		{"timestamp not signed", Sign(secret, body, ""), ts, body, window, ErrBadSignature},
		{"timestamp changed", Sign(secret, body, ts), old, body, window, ErrBadSignature},
		{"not hex", "zz" + Sign(secret, body, ts)[2:], ts, body, window, ErrBadSignature},
		{"sha256= prefix", "sha256=" + Sign(secret, body, ts), ts, body, window, ErrBadSignature},
		{"stale", Sign(secret, body, old), old, body, window, ErrStale},
		{"future", Sign(secret, body, future), future, body, window, ErrFuture},
		{"timestamp not a number", Sign(secret, body, "soon"), "soon", body, window, ErrBadTimestamp},
		{"milliseconds", Sign(secret, body, ts+"000"), ts + "000", body, window, ErrBadTimestamp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := Verify(secret, tt.body, tt.sig, tt.ts, now, tt.window)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if !errors.Is(err, tt.want) || fault.KindOf(err) != fault.Unauthorized {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			// The expected signature never leaks.
			for _, s := range []string{Sign(secret, tt.body, tt.ts), Sign(secret, tt.body, "")} {
				if strings.Contains(err.Error(), s) {
					t.Fatalf("error leaks the expected signature: %v", err)
				}
			}
		})
	}
	if err := Verify(nil, body, Sign(nil, body, ""), "", now, 0); err == nil || fault.KindOf(err) != fault.Internal {
		t.Fatalf("empty secret: %v", err)
	}
	if err := RequireTimestamp(" "); !errors.Is(err, ErrNoTimestamp) {
		t.Fatalf("RequireTimestamp: %v", err)
	}
}

// TestSignMatchesGrafana pins the signing scheme to grafana/alerting
// http/hmac.go: hex(HMAC-SHA256(secret, timestamp + ":" + body)), or of the
// body alone. The digests were computed independently with
// printf '1700000000:{}' | openssl dgst -sha256 -hmac key.
func TestSignMatchesGrafana(t *testing.T) {
	t.Parallel()
	for ts, want := range map[string]string{
		"1700000000": "048e005f489e39cc19cda2cf96316b3b7492e7cd54393e76d145abd15e239bec",
		"":           "a777724d943eb48dc69bca8a4a6d57a04db3f9ec7e1de4e581e860265bdf3032",
	} {
		if got := Sign([]byte("key"), []byte("{}"), ts); got != want {
			t.Errorf("Sign(ts %q) = %s, want %s", ts, got, want)
		}
		if err := Verify([]byte("key"), []byte("{}"), want, ts, time.Unix(1700000000, 0), time.Minute); err != nil {
			t.Errorf("Verify(ts %q): %v", ts, err)
		}
	}
}

func TestDecodeFixtures(t *testing.T) {
	t.Parallel()
	n, err := Decode(fixture(t, "docs_firing.json"))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Unix(0, 0)
	a := n.Received("web", at)
	if a.EventAction != "trigger" || a.Integration != "grafana" || a.Severity != "warning" || !strings.HasPrefix(a.DedupKey, "grafana:") ||
		a.Summary != "2 alerts in group {}:{} of receiver My Super Webhook" || a.Source != "grafana" {
		t.Fatalf("received %+v", a)
	}
	var d alertmanager.Details
	if err := json.Unmarshal(a.Details, &d); err != nil {
		t.Fatal(err)
	}
	if len(d.Alerts) != 2 || d.Alerts[0]["fingerprint"] != "bc97ff14869b13e3" || d.Alerts[0]["silenceURL"] == nil ||
		d.Alerts[0]["values"].(map[string]any)["B"] != 44.23943737541908 {
		t.Fatalf("details %s", a.Details)
	}
	if _, ok := d.Alerts[0]["dashboardURL"]; ok {
		t.Fatal("empty dashboardURL kept")
	}

	r, err := Decode(fixture(t, "resolved.json"))
	if err != nil {
		t.Fatal(err)
	}
	ra := r.Received("web", at)
	if ra.EventAction != "resolve" || ra.Severity != "critical" || ra.Summary != "This alert was triggered for zone us-1" {
		t.Fatalf("resolved %+v", ra)
	}
}

func TestDecodeRules(t *testing.T) {
	t.Parallel()
	valid := string(fixture(t, "docs_firing.json"))
	for name, tc := range map[string]struct{ body, field string }{
		"alertmanager payload": {strings.Replace(valid, `"version": "1"`, `"version": "4"`, 1), "version"},
		"custom template":      {`{"text":"disk full"}`, "version"},
		"no alerts":            {`{"version":"1","groupKey":"g","status":"firing","alerts":[]}`, "alerts"},
		"status disagrees": {strings.Replace(valid, `"status": "firing",
  "orgId"`, `"status": "resolved",
  "orgId"`, 1), "status"},
		"values not numbers": {`{"version":"1","alerts":[{"values":{"B":"x"}}]}`, "alerts.values"},
	} {
		_, err := Decode([]byte(tc.body))
		if !errors.Is(err, fault.Invalid) || fault.DetailsOf(err)["field"] != tc.field {
			t.Errorf("%s: got %v, want Invalid naming %s", name, err, tc.field)
		}
	}
}

func TestContentHash(t *testing.T) {
	t.Parallel()
	body := fixture(t, "docs_firing.json")
	h1, err := ContentHash(body)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	_ = json.Unmarshal(body, &m)
	m["externalURL"] = "https://grafana-2.example.com/"
	m["message"], m["title"] = "other rendering", "other"
	for _, a := range m["alerts"].([]any) {
		a.(map[string]any)["values"] = map[string]any{"B": 50.1}
	}
	peer, _ := json.Marshal(m)
	h2, err := ContentHash(peer)
	if err != nil {
		t.Fatal(err)
	}
	if h1 != h2 {
		t.Fatal("per-instance fields change the hash")
	}
	m["orgId"] = 2
	other, _ := json.Marshal(m)
	if h3, _ := ContentHash(other); h3 == h1 {
		t.Fatal("orgId not in the hash")
	}
	n1, _ := Decode(body)
	n2, _ := Decode(other)
	if n1.GroupDedupKey() == n2.GroupDedupKey() {
		t.Fatal("orgId not in the group dedup key")
	}
	if _, err := ContentHash([]byte(`{}`)); fault.KindOf(err) != fault.Invalid {
		t.Fatalf("bad body: %v", err)
	}
}

// FuzzDecode: no input panics; an accepted notification gives a valid group
// alert whose details hold every alert.
func FuzzDecode(f *testing.F) {
	f.Add(fixture(f, "docs_firing.json"))
	f.Add(fixture(f, "resolved.json"))
	f.Add([]byte(`{"version":"1","groupKey":"g","status":"firing","orgId":-1,"alerts":[{"status":"firing","fingerprint":"f","startsAt":"2024-01-01T00:00:00Z","values":{"A":1e308}}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		n, err := Decode(body)
		if err != nil {
			if fault.KindOf(err) != fault.Invalid {
				t.Fatalf("error of kind %s: %v", fault.KindOf(err), err)
			}
			return
		}
		a := n.Received("svc", time.Unix(0, 0))
		if !strings.HasPrefix(a.DedupKey, "grafana:") || a.Summary == "" || len(a.Summary) > 1024 || len(a.Source) > 255 {
			t.Fatalf("bad alert %+v", a)
		}
		if (a.EventAction == "resolve") != (n.Status == "resolved") {
			t.Fatalf("action %s for status %s", a.EventAction, n.Status)
		}
		var d alertmanager.Details
		if err := json.Unmarshal(a.Details, &d); err != nil || len(d.Alerts) != len(n.Alerts) {
			t.Fatalf("details %s: %v", a.Details, err)
		}
		if n.ContentHash() == "" {
			t.Fatal("no hash")
		}
	})
}
