package examples_test

import (
	"testing"

	"github.com/firebreak-dev/firebreak/examples"
	"github.com/firebreak-dev/firebreak/services/escalation"
	"github.com/firebreak-dev/firebreak/services/escalation/configfile"
)

// TestFirebreakYAML keeps the sample configuration of `firebreak dev`
// valid and complete: it parses, validates and covers what the sample
// setup relies on.
func TestFirebreakYAML(t *testing.T) {
	t.Parallel()
	c, idx, err := configfile.Parse(examples.Firebreak)
	if err != nil {
		for _, e := range configfile.Errors(err) {
			t.Errorf("firebreak.yaml:%d: %s", e.Line, e.Msg)
		}
		t.FailNow()
	}
	for _, e := range escalation.Validate(c) {
		t.Errorf("firebreak.yaml:%d: %v", idx.Line(e.Field), e)
	}
	has := func(kind, name string) {
		t.Helper()
		for _, ch := range escalation.Diff(escalation.Config{}, c) {
			if ch.Kind == kind && ch.Name == name {
				return
			}
		}
		t.Errorf("firebreak.yaml has no %s %q", kind, name)
	}
	// sample-db is the service `firebreak dev` raises its sample alert for.
	has(escalation.KindService, "checkout")
	has(escalation.KindService, "sample-db")
	if len(c.Users) != 3 || len(c.Schedules) == 0 || len(c.Schedules[0].Overrides) == 0 || len(c.MaintenanceWindows) == 0 {
		t.Errorf("firebreak.yaml lost part of the sample: %d users, schedules %+v, %d maintenance windows",
			len(c.Users), c.Schedules, len(c.MaintenanceWindows))
	}
	for _, p := range c.Policies {
		if p.Name == "checkout-primary" && len(p.Levels) != 2 {
			t.Errorf("checkout-primary has %d levels, want 2", len(p.Levels))
		}
	}
}
