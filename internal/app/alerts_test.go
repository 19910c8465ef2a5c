package app_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/firebreak-dev/firebreak/internal/client"
	"github.com/firebreak-dev/firebreak/internal/integration"
	"github.com/firebreak-dev/firebreak/services/incident"
)

// amPayload is an Alertmanager webhook notification (payload version 4, as
// notify/webhook sends it) of one group of three HighLatency alerts with
// the given statuses.
func amPayload(s1, s2, s3 string) []byte {
	status := "resolved"
	alerts := make([]string, 0, 3)
	for i, st := range []string{s1, s2, s3} {
		if st == "firing" {
			status = "firing"
		}
		ends := "0001-01-01T00:00:00Z"
		if st == "resolved" {
			ends = fmt.Sprintf("2026-11-28T10:%02d:00Z", 30+i)
		}
		alerts = append(alerts, fmt.Sprintf(`{"status":%q,"labels":{"alertname":"HighLatency","instance":"api-%d:8080","job":"api","severity":"critical"},
 "annotations":{"summary":"p99 latency above 2s on api-%d","runbook_url":"https://runbooks.example.com/latency"},
 "startsAt":"2026-11-28T10:0%d:00.123456789Z","endsAt":%q,
 "generatorURL":"http://prometheus.example.com:9090/graph?g0.expr=latency%%3E2&g0.tab=1","fingerprint":"c0ffee00000000%02d"}`,
			st, i+1, i+1, i, ends, i+1))
	}
	return fmt.Appendf(nil, `{"receiver":"firebreak","status":%q,"alerts":[%s],
 "groupLabels":{"alertname":"HighLatency"},
 "commonLabels":{"alertname":"HighLatency","job":"api","severity":"critical"},
 "commonAnnotations":{"runbook_url":"https://runbooks.example.com/latency"},
 "externalURL":"http://alertmanager.example.com:9093","version":"4",
 "groupKey":"{}:{alertname=\"HighLatency\"}","truncatedAlerts":0}`, status, strings.Join(alerts, ","))
}

// TestIncidentAlertsEndToEnd: an Alertmanager group of three alerts posted
// to the webhook opens one incident whose alerts the API lists by
// fingerprint, each with its own status; one alert resolving resolves only
// that alert; the incident resolves when every alert has.
func TestIncidentAlertsEndToEnd(t *testing.T) {
	t.Parallel()
	a := start(t, devConfig(t.TempDir()))
	rec := record(t, a.NATSConn())
	admin := client.New(a.HTTPURL(), a.Token(), "cli")
	in := createIntegration(t, admin, "api", integration.TypeAlertmanager)
	url := a.HTTPURL() + "/api/v1/integrations/alertmanager"
	auth := map[string]string{"Authorization": "Bearer " + in.Key}
	ctx := context.Background()

	statuses := func(o client.AlertOptions) (map[string]string, incident.AlertListJSON) {
		page, err := admin.IncidentAlerts(ctx, "INC-1", o)
		if err != nil {
			return nil, page
		}
		m := map[string]string{}
		for _, al := range page.Items {
			m[al.Key] = al.Status
		}
		return m, page
	}
	waitAlerts := func(what string, o client.AlertOptions, want map[string]string) incident.AlertListJSON {
		t.Helper()
		var page incident.AlertListJSON
		var got map[string]string
		defer func() {
			if t.Failed() {
				t.Logf("last alerts: %v", got)
			}
		}()
		eventually(t, what, func() bool {
			got, page = statuses(o)
			return reflect.DeepEqual(got, want)
		})
		return page
	}

	if st, body := post(t, url, auth, amPayload("firing", "firing", "firing")); st != http.StatusOK {
		t.Fatalf("firing: %d %s", st, body)
	}
	waitIncident(t, admin, "INC-1", func(i incident.IncidentJSON) bool { return i.Status == "triggered" })
	page := waitAlerts("three firing alerts", client.AlertOptions{},
		map[string]string{"c0ffee0000000001": "firing", "c0ffee0000000002": "firing", "c0ffee0000000003": "firing"})
	al := page.Items[0]
	if al.Key != "c0ffee0000000001" || al.Labels["instance"] != "api-1:8080" || al.Annotations["summary"] != "p99 latency above 2s on api-1" ||
		al.Summary != "p99 latency above 2s on api-1" || al.Severity != "critical" || al.Integration != in.Label() ||
		al.GeneratorURL != "http://prometheus.example.com:9090/graph?g0.expr=latency%3E2&g0.tab=1" ||
		al.StartsAt == nil || al.StartsAt.Format("15:04:05.000000") != "10:00:00.123456" || al.EndsAt != nil || al.Receipts != 1 {
		t.Errorf("first alert = %+v", al)
	}

	// The second alert resolves; the group, and the incident, still fire.
	if st, body := post(t, url, auth, amPayload("firing", "resolved", "firing")); st != http.StatusOK {
		t.Fatalf("one resolved: %d %s", st, body)
	}
	page = waitAlerts("the resolved alert", client.AlertOptions{Status: "resolved"}, map[string]string{"c0ffee0000000002": "resolved"})
	if al := page.Items[0]; al.EndsAt == nil || al.EndsAt.Format("15:04") != "10:31" || al.Receipts != 2 {
		t.Errorf("resolved alert = %+v", al)
	}
	if page.Stats.Firing != 2 || page.Stats.Resolved != 1 || page.Stats.Limit != incident.DefaultMaxAlerts {
		t.Errorf("stats = %+v", page.Stats)
	}
	if got, _ := statuses(client.AlertOptions{Status: "firing"}); !reflect.DeepEqual(got, map[string]string{"c0ffee0000000001": "firing", "c0ffee0000000003": "firing"}) {
		t.Errorf("firing = %v", got)
	}
	inc, err := admin.GetIncident(ctx, "INC-1")
	if err != nil {
		t.Fatal(err)
	}
	if inc.Status != "triggered" || inc.Alerts == nil || inc.Alerts.Firing != 2 || inc.Alerts.Resolved != 1 {
		t.Errorf("incident %s with alerts %+v, want triggered with 2 firing, 1 resolved", inc.Status, inc.Alerts)
	}

	// Every alert resolved: the incident resolves.
	if st, body := post(t, url, auth, amPayload("resolved", "resolved", "resolved")); st != http.StatusOK {
		t.Fatalf("all resolved: %d %s", st, body)
	}
	waitIncident(t, admin, "INC-1", func(i incident.IncidentJSON) bool { return i.Status == "resolved" })
	waitAlerts("every alert resolved", client.AlertOptions{},
		map[string]string{"c0ffee0000000001": "resolved", "c0ffee0000000002": "resolved", "c0ffee0000000003": "resolved"})

	var ae *client.APIError
	if _, err := admin.IncidentAlerts(ctx, "INC-99", client.AlertOptions{}); !errors.As(err, &ae) || ae.Status != http.StatusNotFound {
		t.Errorf("alerts of INC-99: %v, want 404", err)
	}
	if _, err := admin.IncidentAlerts(ctx, "INC-1", client.AlertOptions{Status: "open"}); !errors.As(err, &ae) || ae.Status != http.StatusBadRequest ||
		!strings.Contains(fmt.Sprint(ae.Details), "status") {
		t.Errorf("status=open: %v, want 400 naming status", err)
	}
	rec.validate(t)
}
