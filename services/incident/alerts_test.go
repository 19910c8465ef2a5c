package incident_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/httpapi"
	"github.com/firebreak-dev/firebreak/services/incident"
	"github.com/firebreak-dev/firebreak/services/intake/alertmanager"
	"github.com/firebreak-dev/firebreak/services/intake/grafana"
)

// apiTokens authenticates "reader" with incidents:read and "other" with a
// scope that does not read incidents.
type apiTokens struct{}

func (apiTokens) Authenticate(_ context.Context, token string) (httpapi.Principal, error) {
	switch token {
	case "reader":
		return httpapi.Principal{ID: "reader", Kind: events.ActorUser, Scopes: []string{httpapi.ScopeIncidentsRead}}, nil
	case "other":
		return httpapi.Principal{ID: "other", Kind: events.ActorUser, Scopes: []string{httpapi.ScopeIncidentsWrite}}, nil
	}
	return httpapi.Principal{}, httpapi.ErrBadToken
}

var amStart = time.Date(2026, 11, 28, 8, 0, 0, 0, time.UTC)

// amGroup is the alert.received intake makes of an Alertmanager
// notification of one group whose alerts have the given statuses (by
// fingerprint), built by intake's own code so that the details are the
// real contract.
func amGroup(t *testing.T, statuses map[string]string, truncated uint64) events.Envelope {
	t.Helper()
	n := alertmanager.Notification{Version: "4", GroupKey: `{}:{alertname="HighCpu"}`, Receiver: "firebreak",
		TruncatedAlerts: truncated, Status: alertmanager.StatusResolved,
		GroupLabels: map[string]string{"alertname": "HighCpu"}, CommonLabels: map[string]string{"alertname": "HighCpu"}}
	fps := make([]string, 0, len(statuses))
	for fp := range statuses {
		fps = append(fps, fp)
	}
	sort.Strings(fps)
	for i, fp := range fps {
		a := alertmanager.Alert{Status: statuses[fp], Fingerprint: fp, StartsAt: amStart.Add(time.Duration(i) * time.Minute),
			Labels:       map[string]string{"alertname": "HighCpu", "instance": "node-" + fp + ":9100", "severity": "critical"},
			Annotations:  map[string]string{"summary": "High CPU on " + fp},
			GeneratorURL: "http://prometheus:9090/graph?g0.expr=cpu"}
		if a.Status == alertmanager.StatusFiring {
			n.Status = alertmanager.StatusFiring
		} else {
			a.EndsAt = amStart.Add(time.Hour)
		}
		n.Alerts = append(n.Alerts, a)
	}
	if err := n.Group().Validate(); err != nil {
		t.Fatal(err)
	}
	return events.MustNew(events.TypeAlertReceived, "intake", "checkout",
		events.Actor{Kind: events.ActorIntegration, ID: "am"}, n.Received("checkout", amStart.Add(90*time.Minute)))
}

type apiClient struct {
	t  *testing.T
	ts *httptest.Server
}

func newAPI(t *testing.T, svc *incident.Service) *apiClient {
	srv, err := httpapi.New(apiTokens{}, nil, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	svc.Routes(srv, nil)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return &apiClient{t: t, ts: ts}
}

func (c *apiClient) get(path, token string, out any) int {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.ts.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("GET %s: %v\n%s", path, err, b)
		}
	}
	return resp.StatusCode
}

func (c *apiClient) alerts(path string) incident.AlertListJSON {
	c.t.Helper()
	var out incident.AlertListJSON
	if code := c.get(path, "reader", &out); code != http.StatusOK {
		c.t.Fatalf("GET %s = %d", path, code)
	}
	return out
}

func statuses(l incident.AlertListJSON) map[string]string {
	m := map[string]string{}
	for _, a := range l.Items {
		m[a.Key] = a.Status
	}
	return m
}

func TestAlertGroupTrackedByFingerprint(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e engine) {
		h := newHarness(t, e, true)
		api := newAPI(t, h.svc)
		ctx := t.Context()
		const F = alertmanager.StatusFiring
		const R = alertmanager.StatusResolved

		if err := h.svc.HandleAlert(ctx, amGroup(t, map[string]string{"fp1": F, "fp2": F, "fp3": F}, 0)); err != nil {
			t.Fatal(err)
		}
		all := api.alerts("/api/v1/incidents/INC-1/alerts")
		if want := map[string]string{"fp1": F, "fp2": F, "fp3": F}; !reflect.DeepEqual(statuses(all), want) {
			t.Fatalf("alerts = %v, want %v", statuses(all), want)
		}
		if all.Incident != "INC-1" || all.Stats != (incident.AlertStatsJSON{Firing: 3, Limit: incident.DefaultMaxAlerts}) {
			t.Errorf("incident %q stats %+v, want INC-1 with 3 firing", all.Incident, all.Stats)
		}
		a := all.Items[0]
		if a.Key != "fp1" || a.Summary != "High CPU on fp1" || a.Severity != events.SeverityCritical || a.Source != "node-fp1:9100" ||
			a.Integration != "alertmanager" || a.Labels["instance"] != "node-fp1:9100" || a.Annotations["summary"] != "High CPU on fp1" ||
			a.GeneratorURL != "http://prometheus:9090/graph?g0.expr=cpu" || a.StartsAt == nil || !a.StartsAt.Equal(amStart) ||
			a.EndsAt != nil || a.Receipts != 1 || !a.FirstSeenAt.Equal(amStart.Add(90*time.Minute)) {
			t.Errorf("first alert = %+v", a)
		}

		// fp2 resolves; the group still fires.
		resolved := amGroup(t, map[string]string{"fp1": F, "fp2": R, "fp3": F}, 0)
		for range 2 { // the second delivery is a redelivery and changes nothing
			if err := h.svc.HandleAlert(ctx, resolved); err != nil {
				t.Fatal(err)
			}
		}
		inc, err := h.svc.Get(ctx, "INC-1")
		if err != nil {
			t.Fatal(err)
		}
		if inc.Status != incident.StatusTriggered || inc.AlertCount != 2 {
			t.Errorf("incident = %s with %d alerts, want triggered with 2", inc.Status, inc.AlertCount)
		}
		firing := api.alerts("/api/v1/incidents/INC-1/alerts?status=firing")
		if want := map[string]string{"fp1": F, "fp3": F}; !reflect.DeepEqual(statuses(firing), want) {
			t.Errorf("firing = %v, want %v", statuses(firing), want)
		}
		res := api.alerts("/api/v1/incidents/" + inc.ID + "/alerts?status=resolved")
		if want := map[string]string{"fp2": R}; !reflect.DeepEqual(statuses(res), want) {
			t.Fatalf("resolved = %v, want %v", statuses(res), want)
		}
		if a := res.Items[0]; a.Receipts != 2 || a.EndsAt == nil || !a.EndsAt.Equal(amStart.Add(time.Hour)) {
			t.Errorf("resolved alert = %+v, want 2 receipts (not 3) and its end", a)
		}
		if res.Stats != (incident.AlertStatsJSON{Firing: 2, Resolved: 1, Limit: incident.DefaultMaxAlerts}) {
			t.Errorf("stats = %+v", res.Stats)
		}

		// Paging: two pages of two and one.
		p1 := api.alerts("/api/v1/incidents/INC-1/alerts?limit=2")
		if len(p1.Items) != 2 || p1.NextCursor == "" {
			t.Fatalf("page 1 = %+v", p1)
		}
		p2 := api.alerts("/api/v1/incidents/INC-1/alerts?limit=2&cursor=" + p1.NextCursor)
		if len(p2.Items) != 1 || p2.Items[0].Key != "fp3" || p2.NextCursor != "" {
			t.Errorf("page 2 = %+v, want fp3 and no cursor", p2)
		}

		// The show route sums the alerts up.
		var show incident.IncidentJSON
		if code := api.get("/api/v1/incidents/INC-1", "reader", &show); code != http.StatusOK {
			t.Fatalf("show = %d", code)
		}
		if show.Alerts == nil || *show.Alerts != (incident.AlertStatsJSON{Firing: 2, Resolved: 1, Limit: incident.DefaultMaxAlerts}) || show.Key != "INC-1" {
			t.Errorf("show alerts = %+v", show.Alerts)
		}

		// Every alert resolved: the incident resolves, its alerts say so.
		if err := h.svc.HandleAlert(ctx, amGroup(t, map[string]string{"fp1": R, "fp2": R, "fp3": R}, 2)); err != nil {
			t.Fatal(err)
		}
		if inc, _ := h.svc.Get(ctx, "INC-1"); inc.Status != incident.StatusResolved {
			t.Errorf("incident %s after every alert resolved, want resolved", inc.Status)
		}
		all = api.alerts("/api/v1/incidents/INC-1/alerts")
		if want := map[string]string{"fp1": R, "fp2": R, "fp3": R}; !reflect.DeepEqual(statuses(all), want) {
			t.Errorf("alerts = %v, want all resolved", statuses(all))
		}
		if all.Stats.TruncatedAlerts != 2 || all.Stats.Resolved != 3 || all.Stats.Firing != 0 {
			t.Errorf("stats = %+v, want 3 resolved, 2 truncated", all.Stats)
		}
	})
}

func TestAlertsAPIErrors(t *testing.T) {
	t.Parallel()
	h := newHarness(t, engines[0], true)
	api := newAPI(t, h.svc)
	if err := h.svc.HandleAlert(t.Context(), alert(events.ActionTrigger, "k")); err != nil {
		t.Fatal(err)
	}
	type errBody struct {
		Error struct {
			Code    string         `json:"code"`
			Details map[string]any `json:"details"`
			Message string         `json:"message"`
		} `json:"error"`
	}
	for _, tc := range []struct {
		path, token string
		code        int
		field       string
	}{
		{"/api/v1/incidents/INC-9/alerts", "reader", http.StatusNotFound, ""},
		{"/api/v1/incidents/no-such-id/alerts", "reader", http.StatusNotFound, ""},
		{"/api/v1/incidents/INC-1/alerts?status=open", "reader", http.StatusBadRequest, "status"},
		{"/api/v1/incidents/INC-1/alerts?limit=0", "reader", http.StatusBadRequest, "limit"},
		{"/api/v1/incidents/INC-1/alerts?limit=x", "reader", http.StatusBadRequest, "limit"},
		{"/api/v1/incidents/INC-1/alerts?cursor=bm9wZQ", "reader", http.StatusBadRequest, "cursor"},
		{"/api/v1/incidents/INC-1/alerts", "other", http.StatusForbidden, ""},
		{"/api/v1/incidents/INC-1/alerts", "", http.StatusUnauthorized, ""},
	} {
		var b errBody
		code := api.get(tc.path, tc.token, &b)
		if code != tc.code {
			t.Errorf("GET %s as %q = %d, want %d", tc.path, tc.token, code, tc.code)
		}
		if tc.field != "" && b.Error.Details["field"] != tc.field {
			t.Errorf("GET %s: error %+v does not name %q", tc.path, b.Error, tc.field)
		}
	}
}

func TestAlertsUngroupedAndLimit(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e engine) {
		c := &clock{t: time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)}
		store, _ := e.open(t, c.Now)
		svc, err := incident.New(store, nil, incident.Config{AutoCreateServices: true, Now: c.Now, MaxAlerts: 2})
		if err != nil {
			t.Fatal(err)
		}
		api := newAPI(t, svc)
		ctx := t.Context()

		// A generic alert is one alert, keyed by its dedup key; repeats
		// count receipts, the resolve ends it.
		batch := []events.Envelope{alert(events.ActionTrigger, "k"), alert(events.ActionTrigger, "k"), alert(events.ActionAcknowledge, "k")}
		if err := svc.HandleAlerts(ctx, batch); err != nil {
			t.Fatal(err)
		}
		l := api.alerts("/api/v1/incidents/INC-1/alerts")
		if len(l.Items) != 1 || l.Items[0].Key != "k" || l.Items[0].Status != incident.AlertFiring || l.Items[0].Receipts != 2 ||
			l.Items[0].Summary != "errors" || l.Items[0].Severity != "error" || l.Items[0].StartsAt == nil {
			t.Fatalf("generic alerts = %+v, want k firing with 2 receipts", l.Items)
		}
		started := *l.Items[0].StartsAt
		if err := svc.HandleAlert(ctx, alert(events.ActionResolve, "k")); err != nil {
			t.Fatal(err)
		}
		l = api.alerts("/api/v1/incidents/INC-1/alerts")
		if a := l.Items[0]; a.Status != incident.AlertResolved || a.EndsAt == nil || !a.StartsAt.Equal(started) || a.Receipts != 3 {
			t.Errorf("resolved generic alert = %+v, want resolved, ended, start kept, 3 receipts", a)
		}

		// A group of three with a limit of two: two kept, the third counted.
		if err := svc.HandleAlert(ctx, amGroup(t, map[string]string{"a": "firing", "b": "firing", "c": "firing"}, 0)); err != nil {
			t.Fatal(err)
		}
		l = api.alerts("/api/v1/incidents/INC-2/alerts")
		if len(l.Items) != 2 || l.Stats != (incident.AlertStatsJSON{Firing: 2, Limit: 2, Overflow: 1}) {
			t.Errorf("limited group = %d alerts, stats %+v; want 2 kept, overflow 1, limit 2", len(l.Items), l.Stats)
		}
	})
}

func TestAlertsGrafanaExtras(t *testing.T) {
	t.Parallel()
	h := newHarness(t, engines[0], true)
	api := newAPI(t, h.svc)
	body, err := os.ReadFile("../intake/grafana/testdata/docs_firing.json")
	if err != nil {
		t.Fatal(err)
	}
	n, err := grafana.Decode(body)
	if err != nil {
		t.Fatal(err)
	}
	data := n.Received("checkout", time.Now())
	data.Integration = "grafana-prod" // intake sends the integration's label, not its type
	env := events.MustNew(events.TypeAlertReceived, "intake", "checkout",
		events.Actor{Kind: events.ActorIntegration, ID: "grafana"}, data)
	if err := h.svc.HandleAlert(t.Context(), env); err != nil {
		t.Fatal(err)
	}
	l := api.alerts("/api/v1/incidents/INC-1/alerts")
	if len(l.Items) != len(n.Alerts) {
		t.Fatalf("%d alerts, want %d", len(l.Items), len(n.Alerts))
	}
	for _, a := range l.Items {
		var extra map[string]any
		if err := json.Unmarshal(a.Details, &extra); err != nil {
			t.Fatalf("alert %s details %s: %v", a.Key, a.Details, err)
		}
		if a.Integration != "grafana-prod" || extra["silenceURL"] == nil || extra["values"] == nil || extra["fingerprint"] != nil {
			t.Errorf("grafana alert %s = %+v, details %v; want Grafana's extras (not the core fields) in details", a.Key, a, extra)
		}
	}
}

// TestAlertsCustomDetailsNotAGroup: a generic alert whose custom details
// merely look like alerts is one alert keyed by its dedup key, its details
// kept as sent.
func TestAlertsCustomDetailsNotAGroup(t *testing.T) {
	t.Parallel()
	h := newHarness(t, engines[0], true)
	api := newAPI(t, h.svc)
	details := `{"alerts":[{"fingerprint":"x","status":"firing"}],"groupKey":"g"}` // no receiver
	env := events.MustNew(events.TypeAlertReceived, "intake", "x", events.Actor{Kind: events.ActorIntegration, ID: "generic"},
		events.AlertReceived{Service: "checkout", DedupKey: "disk", EventAction: events.ActionTrigger, Summary: "disk full",
			Severity: "warning", Source: "db1", Details: json.RawMessage(details), Integration: "generic", ReceivedAt: time.Now()})
	if err := h.svc.HandleAlert(t.Context(), env); err != nil {
		t.Fatal(err)
	}
	l := api.alerts("/api/v1/incidents/INC-1/alerts")
	if len(l.Items) != 1 || l.Items[0].Key != "disk" || l.Items[0].Source != "db1" || string(l.Items[0].Details) != details {
		t.Errorf("alerts = %+v, want the one alert disk with its details", l.Items)
	}
}
