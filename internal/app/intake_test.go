package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PagerDuty/go-pagerduty"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/bus"
	"github.com/firebreak-dev/firebreak/internal/client"
	"github.com/firebreak-dev/firebreak/internal/integration"
	"github.com/firebreak-dev/firebreak/services/incident"
	"github.com/firebreak-dev/firebreak/services/intake/grafana"
	"github.com/firebreak-dev/firebreak/services/intake/source"
)

// post sends body to url with headers and returns the status and body.
func post(t *testing.T, url string, headers map[string]string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func createIntegration(t *testing.T, c *client.Client, service, typ string) integration.Created {
	t.Helper()
	in, err := c.CreateIntegration(context.Background(), integration.Spec{Service: service, Type: typ, Name: typ + " test"})
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// storedAlerts is how many alert.received events FB_ALERTS holds: what
// JetStream stored, after de-duplication.
func storedAlerts(t *testing.T, nc *nats.Conn) uint64 {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(context.Background(), bus.StreamAlerts)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

func pdStatus(err error) int {
	var ae pagerduty.APIError
	if errors.As(err, &ae) {
		return ae.StatusCode
	}
	return 0
}

// TestPagerDutyEventsV2: the real go-pagerduty client, pointed at
// firebreak, triggers, acknowledges and resolves an incident; change events
// are published; bad events get PagerDuty's 400 with every error; a wrong
// or revoked routing key gets PagerDuty's invalid routing key answer.
func TestPagerDutyEventsV2(t *testing.T) {
	t.Parallel()
	a := start(t, devConfig(t.TempDir()))
	rec := record(t, a.NATSConn())
	ctx := context.Background()
	admin := client.New(a.HTTPURL(), a.Token(), "cli")
	in := createIntegration(t, admin, "checkout", integration.TypeEventsV2)
	if len(in.Key) != 32 {
		t.Fatalf("routing key %q", in.Key)
	}
	pd := pagerduty.NewClient("", pagerduty.WithV2EventsAPIEndpoint(a.HTTPURL()))

	resp, err := pd.ManageEventWithContext(ctx, &pagerduty.V2Event{RoutingKey: in.Key, Action: "trigger", DedupKey: "disk/db1",
		Payload: &pagerduty.V2Payload{Summary: "Disk 95% full on db1", Source: "db1", Severity: "critical",
			Component: "postgres", Details: map[string]any{"mount": "/var"}}})
	if err != nil || resp.Status != "success" || resp.Message != "Event processed" || resp.DedupKey != "disk/db1" {
		t.Fatalf("trigger: %+v %v", resp, err)
	}
	inc := waitIncident(t, admin, "INC-1", func(i incident.IncidentJSON) bool { return i.Status == "triggered" })
	if inc.Service != "checkout" || inc.DedupKey != "disk/db1" || inc.AlertSeverity != "critical" {
		t.Fatalf("incident %+v", inc)
	}
	if _, err := pd.ManageEventWithContext(ctx, &pagerduty.V2Event{RoutingKey: in.Key, Action: "acknowledge", DedupKey: "disk/db1"}); err != nil {
		t.Fatal(err)
	}
	waitIncident(t, admin, "INC-1", func(i incident.IncidentJSON) bool { return i.Status == "acknowledged" })
	if _, err := pd.ManageEventWithContext(ctx, &pagerduty.V2Event{RoutingKey: in.Key, Action: "resolve", DedupKey: "disk/db1"}); err != nil {
		t.Fatal(err)
	}
	waitIncident(t, admin, "INC-1", func(i incident.IncidentJSON) bool { return i.Status == "resolved" })

	// A trigger without a dedup_key gets one; acknowledging an unknown key
	// is accepted (and ignored).
	resp, err = pd.ManageEventWithContext(ctx, &pagerduty.V2Event{RoutingKey: in.Key, Action: "trigger",
		Payload: &pagerduty.V2Payload{Summary: "cpu", Source: "web1", Severity: "warning"}})
	if err != nil || resp.DedupKey == "" {
		t.Fatalf("trigger without dedup_key: %+v %v", resp, err)
	}
	if _, err := pd.ManageEventWithContext(ctx, &pagerduty.V2Event{RoutingKey: in.Key, Action: "acknowledge", DedupKey: "never-seen"}); err != nil {
		t.Fatalf("acknowledge unknown: %v", err)
	}
	waitIncident(t, admin, "INC-2", func(i incident.IncidentJSON) bool { return i.DedupKey == resp.DedupKey })

	// Change events.
	ch, err := pd.CreateChangeEventWithContext(ctx, pagerduty.ChangeEvent{RoutingKey: in.Key,
		Payload: pagerduty.ChangeEventPayload{Summary: "deployed v2", Source: "ci", Timestamp: "2026-11-28T09:00:00Z"},
		Links:   []pagerduty.ChangeEventLink{{Href: "https://ci.example.com/1", Text: "build"}}})
	if err != nil || ch.Status != "success" {
		t.Fatalf("change: %+v %v", ch, err)
	}
	eventually(t, "change.received", func() bool { return slices.Contains(rec.types(), events.TypeChangeReceived) })

	// Bad events: every error at once, in PagerDuty's shape.
	_, err = pd.ManageEventWithContext(ctx, &pagerduty.V2Event{RoutingKey: in.Key, Action: "trigger",
		Payload: &pagerduty.V2Payload{Severity: "bad"}})
	if pdStatus(err) != 400 {
		t.Fatalf("bad event via client: %v", err)
	}
	st, body := post(t, a.HTTPURL()+"/v2/enqueue", nil, []byte(`{"routing_key":"`+in.Key+`","event_action":"trigger","payload":{"severity":"bad"}}`))
	var inv pagerduty.V2EventResponse
	if st != 400 || json.Unmarshal(body, &inv) != nil || inv.Status != "invalid event" || inv.Message != "Event object is invalid" || len(inv.Errors) != 3 {
		t.Fatalf("bad event: %d %s", st, body)
	}
	if st, body := post(t, a.HTTPURL()+"/v2/enqueue", nil, []byte(`not json`)); st != 400 || !bytes.Contains(body, []byte(`"Unrecognized object"`)) {
		t.Fatalf("not json: %d %s", st, body)
	}
	big := `{"routing_key":"` + in.Key + `","event_action":"trigger","payload":{"summary":"x","source":"x","severity":"info","custom_details":{"x":"` + strings.Repeat("a", 600<<10) + `"}}}`
	if st, _ := post(t, a.HTTPURL()+"/v2/enqueue", nil, []byte(big)); st != 413 {
		t.Fatalf("over 512 KB: %d", st)
	}

	// Wrong, wrong-type and revoked keys: one answer.
	other, _ := integration.NewKey()
	am := createIntegration(t, admin, "checkout", integration.TypeAlertmanager)
	if _, err := admin.RevokeIntegration(ctx, in.ID); err != nil {
		t.Fatal(err)
	}
	var answers []string
	for _, k := range []string{other, am.Key, in.Key} {
		st, body := post(t, a.HTTPURL()+"/v2/enqueue", nil, []byte(`{"routing_key":"`+k+`","event_action":"trigger","payload":{"summary":"x","source":"x","severity":"info"}}`))
		if st != 400 {
			t.Fatalf("key %s: %d %s", k, st, body)
		}
		answers = append(answers, string(body))
	}
	if answers[0] != answers[1] || answers[1] != answers[2] || !strings.Contains(answers[0], "Invalid routing key") {
		t.Fatalf("refusals differ: %q", answers)
	}
	rec.validate(t)
}

// TestAlertmanagerWebhook: two HA peers send the same notification → one
// alert.received stored, one incident; the resolved notification resolves
// it; a wrong bearer is 401; version 3 is 400.
func TestAlertmanagerWebhook(t *testing.T) {
	t.Parallel()
	a := start(t, devConfig(t.TempDir()))
	rec := record(t, a.NATSConn())
	admin := client.New(a.HTTPURL(), a.Token(), "cli")
	in := createIntegration(t, admin, "web", integration.TypeAlertmanager)
	url := a.HTTPURL() + "/api/v1/integrations/alertmanager"
	auth := map[string]string{"Authorization": "Bearer " + in.Key}
	peerA, err := os.ReadFile(filepath.Join("..", "..", "services", "intake", "alertmanager", "testdata", "group_peer_a.json"))
	if err != nil {
		t.Fatal(err)
	}
	peerB, err := os.ReadFile(filepath.Join("..", "..", "services", "intake", "alertmanager", "testdata", "group_peer_b.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range [][]byte{peerA, peerB} {
		if st, body := post(t, url, auth, b); st != 200 {
			t.Fatalf("notification: %d %s", st, body)
		}
	}
	inc := waitIncident(t, admin, "INC-1", func(i incident.IncidentJSON) bool { return i.Status == "triggered" })
	if inc.Service != "web" || !strings.HasPrefix(inc.DedupKey, "am:") {
		t.Fatalf("incident %+v", inc)
	}
	if n := storedAlerts(t, a.NATSConn()); n != 1 {
		t.Fatalf("HA copies stored %d alert.received, want 1", n)
	}

	// Resolved: every alert of the group resolved.
	var n map[string]any
	if err := json.Unmarshal(peerA, &n); err != nil {
		t.Fatal(err)
	}
	n["status"] = "resolved"
	for _, al := range n["alerts"].([]any) {
		m := al.(map[string]any)
		m["status"], m["endsAt"] = "resolved", "2019-01-22T12:00:00Z"
	}
	resolved, _ := json.Marshal(n)
	if st, body := post(t, url, auth, resolved); st != 200 {
		t.Fatalf("resolved: %d %s", st, body)
	}
	waitIncident(t, admin, "INC-1", func(i incident.IncidentJSON) bool { return i.Status == "resolved" })

	if st, _ := post(t, url, map[string]string{"Authorization": "Bearer " + strings.Repeat("x", 32)}, peerA); st != 401 {
		t.Fatalf("wrong bearer: %d", st)
	}
	if st, _ := post(t, url, nil, peerA); st != 401 {
		t.Fatalf("no bearer: %d", st)
	}
	v3 := bytes.Replace(peerA, []byte(`"version":"4"`), []byte(`"version":"3"`), 1)
	if st, body := post(t, url, auth, v3); st != 400 || !bytes.Contains(body, []byte("version")) {
		t.Fatalf("version 3: %d %s", st, body)
	}
	list, err := admin.ListIncidents(context.Background(), client.ListOptions{})
	if err != nil || len(list.Items) != 1 {
		t.Fatalf("incidents: %+v %v", list, err)
	}
	rec.validate(t)
}

// TestGrafanaWebhook: a signed notification opens an incident; a bad
// signature, an unknown integration and a stale timestamp are 401.
func TestGrafanaWebhook(t *testing.T) {
	t.Parallel()
	a := start(t, devConfig(t.TempDir()))
	admin := client.New(a.HTTPURL(), a.Token(), "cli")
	in := createIntegration(t, admin, "web", integration.TypeGrafana)
	if in.SigningSecret == "" {
		t.Fatal("no signing secret")
	}
	body, err := os.ReadFile(filepath.Join("..", "..", "services", "intake", "grafana", "testdata", "docs_firing.json"))
	if err != nil {
		t.Fatal(err)
	}
	url := a.HTTPURL() + "/api/v1/integrations/grafana/" + in.ID
	secret := []byte(in.SigningSecret)
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	signed := map[string]string{grafana.SignatureHeader: grafana.Sign(secret, body, ts), "X-Grafana-Alerting-Timestamp": ts}
	if st, b := post(t, url, signed, body); st != 200 {
		t.Fatalf("signed: %d %s", st, b)
	}
	inc := waitIncident(t, admin, "INC-1", func(i incident.IncidentJSON) bool { return i.Status == "triggered" })
	if inc.Service != "web" || !strings.HasPrefix(inc.DedupKey, "grafana:") {
		t.Fatalf("incident %+v", inc)
	}
	if st, b := post(t, url, map[string]string{grafana.SignatureHeader: grafana.Sign(secret, body, "")}, body); st != 200 {
		t.Fatalf("signed without timestamp: %d %s", st, b)
	}
	bad := map[string]string{grafana.SignatureHeader: grafana.Sign([]byte("wrong"), body, ts), "X-Grafana-Alerting-Timestamp": ts}
	if st, _ := post(t, url, bad, body); st != 401 {
		t.Fatalf("bad signature: %d", st)
	}
	if st, _ := post(t, url, nil, body); st != 401 {
		t.Fatalf("no signature: %d", st)
	}
	other := a.HTTPURL() + "/api/v1/integrations/grafana/0123456789abcdef"
	if st, b := post(t, other, signed, body); st != 401 || !bytes.Contains(b, []byte("signature_invalid")) {
		t.Fatalf("unknown integration: %d %s", st, b)
	}
	old := strconv.FormatInt(time.Now().Add(-time.Hour).Unix(), 10)
	stale := map[string]string{grafana.SignatureHeader: grafana.Sign(secret, body, old), "X-Grafana-Alerting-Timestamp": old}
	if st, b := post(t, url, stale, body); st != 401 || !bytes.Contains(b, []byte("timestamp_stale")) {
		t.Fatalf("stale: %d %s", st, b)
	}
	if _, err := admin.RevokeIntegration(context.Background(), in.ID); err != nil {
		t.Fatal(err)
	}
	if st, _ := post(t, url, signed, body); st != 401 {
		t.Fatalf("revoked: %d", st)
	}
}

// TestGenericIntegrationAndCloudEvents: a generic integration key sends a
// generic alert (its service filled in) and a CloudEvent; POST
// /api/v1/alerts takes a CloudEvent with an API token; revocation refuses
// the key.
func TestGenericIntegrationAndCloudEvents(t *testing.T) {
	t.Parallel()
	a := start(t, devConfig(t.TempDir()))
	rec := record(t, a.NATSConn())
	admin := client.New(a.HTTPURL(), a.Token(), "cli")
	in := createIntegration(t, admin, "db", integration.TypeGeneric)
	url := a.HTTPURL() + "/api/v1/integrations/generic"
	auth := map[string]string{"Authorization": "Bearer " + in.Key}
	if st, b := post(t, url, auth, []byte(`{"dedup_key":"disk","summary":"disk full","severity":"error"}`)); st != 202 {
		t.Fatalf("generic: %d %s", st, b)
	}
	waitIncident(t, admin, "INC-1", func(i incident.IncidentJSON) bool { return i.Service == "db" && i.DedupKey == "disk" })
	if st, b := post(t, url, auth, []byte(`{"service":"other","summary":"x","severity":"error"}`)); st != 400 || !bytes.Contains(b, []byte(`"field":"service"`)) {
		t.Fatalf("other service: %d %s", st, b)
	}
	ce := []byte(`{"specversion":"1.0","id":"evt-1","source":"/monitor","type":"com.example.alert","data":{"dedup_key":"cpu","summary":"cpu hot","severity":"warning"}}`)
	ceHeaders := map[string]string{"Authorization": "Bearer " + in.Key, "Content-Type": "application/cloudevents+json"}
	if st, b := post(t, url, ceHeaders, ce); st != 202 {
		t.Fatalf("cloudevent: %d %s", st, b)
	}
	waitIncident(t, admin, "INC-2", func(i incident.IncidentJSON) bool { return i.Service == "db" && i.DedupKey == "cpu" })

	// POST /api/v1/alerts with an API token, CloudEvents batch.
	batch := []byte(`[{"specversion":"1.0","id":"b-1","source":"/m","type":"x","data":{"service":"api","dedup_key":"b1","summary":"one","severity":"info"}},
	  {"specversion":"1.0","id":"b-2","source":"/m","type":"x","data":{"service":"api","dedup_key":"b2","summary":"two","severity":"info"}}]`)
	st, b := post(t, a.HTTPURL()+"/api/v1/alerts", map[string]string{"Authorization": "Bearer " + a.Token(), "Content-Type": "application/cloudevents-batch+json"}, batch)
	if st != 202 || bytes.Count(b, []byte(`"accepted"`)) != 2 {
		t.Fatalf("batch: %d %s", st, b)
	}
	// Sending the batch again stores nothing new (ids derive from source+id).
	before := storedAlerts(t, a.NATSConn())
	if st, _ := post(t, a.HTTPURL()+"/api/v1/alerts", map[string]string{"Authorization": "Bearer " + a.Token(), "Content-Type": "application/cloudevents-batch+json"}, batch); st != 202 {
		t.Fatal(st)
	}
	if after := storedAlerts(t, a.NATSConn()); after != before {
		t.Fatalf("re-sent batch stored again: %d → %d", before, after)
	}
	// The plain generic JSON alert still works there.
	if st, b := post(t, a.HTTPURL()+"/api/v1/alerts", map[string]string{"Authorization": "Bearer " + a.Token()}, []byte(`{"service":"api","summary":"plain","severity":"info"}`)); st != 202 {
		t.Fatalf("plain: %d %s", st, b)
	}

	if _, err := admin.RevokeIntegration(context.Background(), in.ID); err != nil {
		t.Fatal(err)
	}
	if st, _ := post(t, url, auth, []byte(`{"summary":"x","severity":"error"}`)); st != 401 {
		t.Fatalf("revoked key: %d", st)
	}
	rec.validate(t)
}

// TestNATSIngest: an alert published on fb.ingest.<service> opens an
// incident; invalid messages are dead-lettered with the reason and the
// stream keeps flowing; a CloudEvent is taken too.
func TestNATSIngest(t *testing.T) {
	t.Parallel()
	a := start(t, devConfig(t.TempDir()))
	admin := client.New(a.HTTPURL(), a.Token(), "cli")
	ctx := context.Background()
	js, err := jetstream.New(a.NATSConn())
	if err != nil {
		t.Fatal(err)
	}
	publish := func(subject, id, data string) {
		t.Helper()
		m := &nats.Msg{Subject: subject, Data: []byte(data), Header: nats.Header{}}
		if id != "" {
			m.Header.Set(bus.HeaderMsgID, id)
		}
		if _, err := js.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	publish("fb.ingest.db", "m-1", `{"dedup_key":"disk","summary":"disk full","severity":"critical"}`)
	inc := waitIncident(t, admin, "INC-1", func(i incident.IncidentJSON) bool { return true })
	if inc.Service != "db" || inc.DedupKey != "disk" {
		t.Fatalf("incident %+v", inc)
	}

	publish("fb.ingest.db", "m-2", `{"service":"other","summary":"x","severity":"error"}`)
	publish("fb.ingest.db", "m-3", `not json`)
	publish("fb.ingest.db", "m-4", `{"specversion":"1.0","id":"c-1","source":"/nats","type":"x","data":{"dedup_key":"mem","summary":"mem","severity":"warning"}}`)
	waitIncident(t, admin, "INC-2", func(i incident.IncidentJSON) bool { return i.DedupKey == "mem" && i.Service == "db" })

	dlq, err := js.Stream(ctx, bus.StreamDLQ)
	if err != nil {
		t.Fatal(err)
	}
	var reasons []string
	eventually(t, "two dead letters", func() bool {
		info, err := dlq.Info(ctx, jetstream.WithSubjectFilter(events.DLQSubject(source.IngestConsumer)))
		return err == nil && info.State.Msgs == 2
	})
	for seq := uint64(1); len(reasons) < 2; seq++ {
		m, err := dlq.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		if m.Subject == events.DLQSubject(source.IngestConsumer) {
			reasons = append(reasons, m.Header.Get(bus.HeaderDLQReason))
		}
	}
	if !strings.Contains(reasons[0], "service") || !strings.Contains(reasons[0], "other") || !strings.Contains(reasons[1], "JSON") {
		t.Fatalf("dead-letter reasons %q", reasons)
	}
	list, err := admin.ListIncidents(ctx, client.ListOptions{})
	if err != nil || len(list.Items) != 2 {
		t.Fatalf("incidents %+v %v", list, err)
	}
}
