package configfile_test

import (
	"slices"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/internal/integration"
	"github.com/firebreak-dev/firebreak/services/escalation"
	"github.com/firebreak-dev/firebreak/services/escalation/configfile"
)

func TestIntegrationsRoundTripAndPlan(t *testing.T) {
	t.Parallel()
	src := []byte(`services:
  - name: checkout
integrations:
  - {name: prometheus, service: checkout, type: alertmanager}
  - {name: pd, service: checkout, type: events-v2}
`)
	doc, idx, err := configfile.ParseDocument(src)
	if err != nil {
		t.Fatal(err)
	}
	if errs := configfile.ValidateIntegrations(doc); len(errs) != 0 {
		t.Fatalf("valid file: %v", errs)
	}
	if line := idx.Line("integrations[1].type"); line != 5 {
		t.Fatalf("integrations[1].type on line %d, want 5", line)
	}
	out, err := configfile.MarshalDocument(doc)
	if err != nil {
		t.Fatal(err)
	}
	again, _, err := configfile.ParseDocument(out)
	if err != nil || !slices.Equal(again.Integrations, doc.Integrations) {
		t.Fatalf("round trip: %+v %v\n%s", again.Integrations, err, out)
	}

	now := time.Now()
	live := []integration.Integration{
		{ID: "a", Service: "checkout", Name: "prometheus", Type: "alertmanager"},
		{ID: "b", Service: "checkout", Name: "pd", Type: "grafana", RevokedAt: &now}, // revoked: does not count
	}
	plan := configfile.PlanIntegrations(doc, live)
	if len(plan.Conflicts) != 0 || len(plan.Create) != 1 || plan.Create[0].Name != "pd" {
		t.Fatalf("plan %+v", plan)
	}
	live[1].RevokedAt = nil
	if plan = configfile.PlanIntegrations(doc, live); len(plan.Conflicts) != 1 || plan.Conflicts[0].Field != "integrations[1].type" {
		t.Fatalf("type change must conflict: %+v", plan)
	}
	if got := configfile.LiveIntegrations(live); len(got) != 2 || got[0].Name != "pd" {
		t.Fatalf("export order by service then name: %+v", got)
	}
}

func TestValidateIntegrations(t *testing.T) {
	t.Parallel()
	base := escalation.Config{Services: []escalation.ServiceConfig{{Name: "checkout"}}}
	tests := []struct {
		in    integration.Spec
		field string
	}{
		{integration.Spec{Service: "checkout", Type: "generic"}, "integrations[0].name"},
		{integration.Spec{Name: "Bad Name", Service: "checkout", Type: "generic"}, "integrations[0].name"},
		{integration.Spec{Name: "x", Service: "nope", Type: "generic"}, "integrations[0].service"},
		{integration.Spec{Name: "x", Service: "checkout", Type: "nagios"}, "integrations[0].type"},
	}
	for _, tt := range tests {
		errs := configfile.ValidateIntegrations(configfile.Document{Config: base, Integrations: []integration.Spec{tt.in}})
		if len(errs) != 1 || errs[0].Field != tt.field {
			t.Errorf("%+v: %v, want one error on %s", tt.in, errs, tt.field)
		}
	}
	dup := []integration.Spec{{Name: "x", Service: "checkout", Type: "generic"}, {Name: "x", Service: "checkout", Type: "generic"}}
	if errs := configfile.ValidateIntegrations(configfile.Document{Config: base, Integrations: dup}); len(errs) != 1 || errs[0].Field != "integrations[1]" {
		t.Errorf("duplicate: %v", errs)
	}
}
