package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/client"
	"github.com/firebreak-dev/firebreak/services/escalation"
	"github.com/firebreak-dev/firebreak/services/incident"
	"github.com/firebreak-dev/firebreak/services/intake"
)

// TestAlertGroupingEndToEnd: a grouping rule applied through the
// configuration API reaches the incident service; alerts of one source then
// fold into one incident that lists each of them, another source opens its
// own, and the grouped incident resolves when both of its alerts have.
func TestAlertGroupingEndToEnd(t *testing.T) {
	t.Parallel()
	a := start(t, devConfig(t.TempDir()))
	rec := record(t, a.NATSConn())
	ctx := context.Background()
	c := client.New(a.HTTPURL(), a.Token(), "cli")

	conf := escalation.Config{Services: []escalation.ServiceConfig{{Name: "checkout",
		AlertGrouping: &escalation.AlertGrouping{By: []string{"source"}}}}}
	body, _ := json.Marshal(conf)
	req, _ := http.NewRequest("POST", a.HTTPURL()+"/api/v1/config", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+a.Token())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("apply: %d", resp.StatusCode)
	}
	eventually(t, "the rule reaching the incident service", func() bool {
		svc, err := a.Incident.TechService(ctx, "checkout")
		return err == nil && svc.AlertGrouping != nil && slices.Equal(svc.AlertGrouping.By, []string{"source"})
	})

	send := func(key, source, action string) {
		t.Helper()
		if _, err := c.SendAlert(ctx, intake.Alert{Service: "checkout", DedupKey: key, Summary: key + " failing",
			Severity: "error", Source: source, EventAction: action}); err != nil {
			t.Fatal(err)
		}
	}
	send("db1-disk", "db1", events.ActionTrigger)
	waitIncident(t, c, "INC-1", func(incident.IncidentJSON) bool { return true })
	send("db1-cpu", "db1", events.ActionTrigger)
	send("db2-disk", "db2", events.ActionTrigger)
	inc := waitIncident(t, c, "INC-1", func(i incident.IncidentJSON) bool { return i.AlertCount == 2 })
	if inc.GroupKey == "" {
		t.Fatalf("INC-1 has no group key: %+v", inc)
	}
	if other := waitIncident(t, c, "INC-2", func(incident.IncidentJSON) bool { return true }); other.DedupKey != "db2-disk" {
		t.Fatalf("INC-2 is %s, want db2-disk's", other.DedupKey)
	}
	page, err := c.IncidentAlerts(ctx, "INC-1", client.AlertOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, al := range page.Items {
		keys = append(keys, al.Key)
	}
	if !slices.Equal(keys, []string{"db1-disk", "db1-cpu"}) {
		t.Fatalf("INC-1 alerts %v", keys)
	}
	eventually(t, "incident.alert_grouped on the bus", func() bool {
		return slices.Contains(rec.types(), events.TypeIncidentAlertGrouped)
	})

	send("db1-disk", "db1", events.ActionResolve)
	send("db1-cpu", "db1", events.ActionResolve)
	waitIncident(t, c, "INC-1", func(i incident.IncidentJSON) bool { return i.Status == incident.StatusResolved })
	rec.validate(t)
}
