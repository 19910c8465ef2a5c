package alertmanager

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/internal/fault"
)

// Fixtures: testdata/probe_failure.json is the sample v4 payload shipped by
// the alertmanager-webhook-types crate (assets/sample-v4-payload.json), in
// the shape of prometheus/alertmanager docs/configuration.md. The two
// group_peer files are one notification as two HA peers send it, modelled on
// the duplicate in prometheus/alertmanager#1718: each peer's own
// externalURL, another alert order, times in another zone, and a newer
// peer's extra "notification_reason" field.
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeFixture(t *testing.T) {
	t.Parallel()
	n, err := Decode(fixture(t, "probe_failure.json"))
	if err != nil {
		t.Fatal(err)
	}
	if n.Receiver != "sms" || len(n.Alerts) != 1 || n.Alerts[0].Fingerprint != "1a30ba71cca2921f" || !n.Alerts[0].EndsAt.IsZero() {
		t.Fatalf("decoded %+v", n)
	}
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	a := n.Received("web", at)
	if a.Service != "web" || a.EventAction != "trigger" || a.Summary != "BlackBox Probe Failure: https://server.example.org" ||
		a.Severity != "critical" || a.Source != "https://server.example.org" || a.Integration != "alertmanager" ||
		a.DedupKey != n.GroupDedupKey() || !strings.HasPrefix(a.DedupKey, "am:") {
		t.Fatalf("received %+v", a)
	}
	var d Details
	if err := json.Unmarshal(a.Details, &d); err != nil {
		t.Fatal(err)
	}
	if d.Receiver != "sms" || d.ExternalURL != "http://prometheus.example.org:9093" || len(d.Alerts) != 1 ||
		d.Alerts[0]["fingerprint"] != "1a30ba71cca2921f" || d.GroupLabels["alertname"] != "ProbeFailure" {
		t.Fatalf("details %s", a.Details)
	}
	if _, ok := d.Alerts[0]["endsAt"]; ok {
		t.Fatal("zero endsAt of a firing alert kept")
	}
}

func TestHADuplicatesHashAlike(t *testing.T) {
	t.Parallel()
	a, err := ContentHash(fixture(t, "group_peer_a.json"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := ContentHash(fixture(t, "group_peer_b.json"))
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Fatalf("HA copies hash differently: %s %s", a, b)
	}
	na, _ := Decode(fixture(t, "group_peer_a.json"))
	nb, _ := Decode(fixture(t, "group_peer_b.json"))
	if na.GroupDedupKey() != nb.GroupDedupKey() {
		t.Fatal("HA copies have different group keys")
	}
	// A real change must change the hash.
	na.Alerts[0].Status, na.Alerts[1].Status, na.Status = StatusResolved, StatusResolved, StatusResolved
	if na.ContentHash() == a {
		t.Fatal("resolution did not change the hash")
	}
	nb.Alerts[0].Annotations = map[string]string{"summary": "other"}
	if nb.ContentHash() == a {
		t.Fatal("annotation change did not change the hash")
	}
}

func TestGroupDedupKey(t *testing.T) {
	t.Parallel()
	n := Notification{Receiver: "a", GroupKey: "{}:{x=\"y\"}"}
	m := Notification{Receiver: "b", GroupKey: "{}:{x=\"y\"}"}
	if n.GroupDedupKey() == m.GroupDedupKey() || n.GroupDedupKey() != (Notification{Receiver: "a", GroupKey: "{}:{x=\"y\"}", Status: "resolved"}).GroupDedupKey() {
		t.Fatal("dedup key not a function of (receiver, groupKey)")
	}
	if DedupKey("am", "ab", "c") == DedupKey("am", "a", "bc") {
		t.Fatal("parts not separated")
	}
}

func TestGroupNormalization(t *testing.T) {
	t.Parallel()
	start := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	alert := func(fp, status, sev string) Alert {
		return Alert{Fingerprint: fp, Status: status, StartsAt: start, Labels: map[string]string{"alertname": "DiskFull", "severity": sev}}
	}
	tests := []struct {
		name                           string
		g                              Group
		action, summary, severity, src string
	}{
		{"summary annotation wins", Group{Status: "firing", CommonAnnotations: map[string]string{"summary": "disk full"},
			CommonLabels: map[string]string{"alertname": "DiskFull", "severity": "page", "job": "node"}, Alerts: []Alert{alert("1", "firing", "page")}},
			"trigger", "disk full", "error", "node"},
		{"alertname with count", Group{Status: "firing", CommonLabels: map[string]string{"alertname": "DiskFull"},
			Alerts: []Alert{alert("1", "firing", "warning"), alert("2", "firing", "CRITICAL")}},
			"trigger", "DiskFull (2 alerts)", "critical", "alertmanager"},
		{"firing outranks resolved", Group{Status: "firing", Alerts: []Alert{alert("1", "resolved", "critical"), alert("2", "firing", "info")}},
			"trigger", "2 alerts in group g of receiver r", "info", "alertmanager"},
		{"all resolved", Group{Status: "resolved", CommonLabels: map[string]string{"alertname": "DiskFull", "severity": "high"},
			Alerts: []Alert{alert("1", "resolved", "high")}}, "resolve", "DiskFull", "error", "alertmanager"},
		{"unknown severity is warning", Group{Status: "firing", CommonLabels: map[string]string{"alertname": "X", "severity": "sev1"},
			Alerts: []Alert{alert("1", "firing", "sev1")}}, "trigger", "X", "warning", "alertmanager"},
		{"no severity at all", Group{Status: "firing", Alerts: []Alert{{Fingerprint: "1", Status: "firing", StartsAt: start}}},
			"trigger", "1 alerts in group g of receiver r", "warning", "alertmanager"},
		{"long summary cut", Group{Status: "firing", CommonAnnotations: map[string]string{"summary": strings.Repeat("ü", 600)},
			Alerts: []Alert{alert("1", "firing", "info")}}, "trigger", strings.Repeat("ü", 512), "info", "alertmanager"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g := tt.g
			g.Integration, g.Receiver, g.GroupKey, g.DedupKey = Integration, "r", "g", "am:x"
			if err := g.Validate(); err != nil {
				t.Fatal(err)
			}
			a := g.Received("svc", start)
			if a.EventAction != tt.action || a.Summary != tt.summary || a.Severity != tt.severity || a.Source != tt.src {
				t.Fatalf("got %s %q %s %s", a.EventAction, a.Summary, a.Severity, a.Source)
			}
		})
	}
}

func TestDecodeRules(t *testing.T) {
	t.Parallel()
	valid := string(fixture(t, "probe_failure.json"))
	tests := []struct {
		name, body, field string
	}{
		{"version 3", strings.Replace(valid, `"version": "4"`, `"version": "3"`, 1), "version"},
		{"no version", strings.Replace(valid, `"version": "4",`, ``, 1), "version"},
		{"bad status", strings.Replace(valid, `"status": "firing",
  "alerts"`, `"status": "pending",
  "alerts"`, 1), "status"},
		{"status disagrees", strings.Replace(valid, `"status": "firing",
  "alerts"`, `"status": "resolved",
  "alerts"`, 1), "status"},
		{"alert status", strings.Replace(valid, `"status": "firing",
      "labels"`, `"status": "suppressed",
      "labels"`, 1), "alerts[0].status"},
		{"no fingerprint", strings.Replace(valid, `"fingerprint": "1a30ba71cca2921f"`, `"fingerprint": ""`, 1), "alerts[0].fingerprint"},
		{"no groupKey", strings.Replace(valid, `"groupKey": "{}/{severity=\"critical\"}:{alertname=\"ProbeFailure\"}",`, ``, 1), "groupKey"},
		{"no alerts", `{"version":"4","groupKey":"g","status":"firing","alerts":[]}`, "alerts"},
		{"duplicate fingerprint", `{"version":"4","groupKey":"g","status":"firing","alerts":[{"status":"firing","fingerprint":"a","startsAt":"2024-01-01T00:00:00Z"},{"status":"firing","fingerprint":"a","startsAt":"2024-01-01T00:00:00Z"}]}`, "alerts[1].fingerprint"},
		{"no startsAt", `{"version":"4","groupKey":"g","status":"firing","alerts":[{"status":"firing","fingerprint":"a"}]}`, "alerts[0].startsAt"},
		{"label not string", `{"version":"4","groupKey":"g","status":"firing","commonLabels":{"a":1},"alerts":[]}`, "commonLabels"},
		{"truncatedAlerts negative", `{"version":"4","truncatedAlerts":-1}`, "truncatedAlerts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Decode([]byte(tt.body))
			if !errors.Is(err, fault.Invalid) {
				t.Fatalf("want Invalid naming %s, got %v", tt.field, err)
			}
			if got := fault.DetailsOf(err)["field"]; got != tt.field {
				t.Fatalf("names %v, want %s (%v)", got, tt.field, err)
			}
		})
	}
	for _, body := range []string{``, `{`, `[]`, `{} {}`, `{"version":"4","alerts":[{"startsAt":"yesterday"}]}`} {
		if _, err := Decode([]byte(body)); fault.KindOf(err) != fault.Invalid {
			t.Errorf("Decode(%q) = %v, want Invalid", body, err)
		}
	}
}

// FuzzDecode: no input panics; an accepted notification yields a valid
// group alert, and its content hash does not depend on externalURL or the
// order of its alerts.
func FuzzDecode(f *testing.F) {
	for _, name := range []string{"probe_failure.json", "group_peer_a.json", "group_peer_b.json"} {
		f.Add(fixture(f, name))
	}
	f.Add([]byte(`{"version":"4","groupKey":"g","status":"resolved","alerts":[{"status":"resolved","fingerprint":"a","startsAt":"2024-01-01T00:00:00+01:00","endsAt":"2024-01-01T01:00:00Z"}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		n, err := Decode(body)
		if err != nil {
			if fault.KindOf(err) != fault.Invalid {
				t.Fatalf("error of kind %s: %v", fault.KindOf(err), err)
			}
			return
		}
		a := n.Received("svc", time.Unix(0, 0))
		if a.DedupKey == "" || a.Summary == "" || len(a.Summary) > 1024 || len(a.Source) > 255 {
			t.Fatalf("bad alert %+v", a)
		}
		switch a.Severity {
		case "critical", "error", "warning", "info":
		default:
			t.Fatalf("severity %q", a.Severity)
		}
		if (a.EventAction == "resolve") != (n.Status == StatusResolved) || (a.EventAction != "resolve" && a.EventAction != "trigger") {
			t.Fatalf("action %s for status %s", a.EventAction, n.Status)
		}
		var d Details
		if err := json.Unmarshal(a.Details, &d); err != nil || len(d.Alerts) != len(n.Alerts) {
			t.Fatalf("details %s: %v", a.Details, err)
		}
		h := n.ContentHash()
		n.ExternalURL += "/peer"
		for i, j := 0, len(n.Alerts)-1; i < j; i, j = i+1, j-1 {
			n.Alerts[i], n.Alerts[j] = n.Alerts[j], n.Alerts[i]
		}
		if n.ContentHash() != h {
			t.Fatal("hash depends on externalURL or alert order")
		}
	})
}
