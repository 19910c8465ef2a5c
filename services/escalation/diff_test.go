package escalation_test

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/services/escalation"
	"github.com/firebreak-dev/firebreak/services/escalation/schedule"
)

func TestDiff(t *testing.T) {
	t.Parallel()
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		edit func(c *escalation.Config)
		want []escalation.Change
	}{
		{"same", func(c *escalation.Config) {}, nil},
		{"top-level lists reordered", func(c *escalation.Config) {
			slices.Reverse(c.Services)
			slices.Reverse(c.Users)
		}, nil},
		{"nil versus empty", func(c *escalation.Config) {
			c.Services[1].SeverityMap = map[string]string{}
			c.Users[1].NotificationRules = []escalation.NotificationRule{}
			c.Schedules[0].Layers[0].Restrictions = []schedule.Restriction{}
		}, nil},
		{"times in another zone", func(c *escalation.Config) {
			c.Schedules[0].Layers[0].Start = c.Schedules[0].Layers[0].Start.In(berlin)
			c.MaintenanceWindows[0].End = c.MaintenanceWindows[0].End.In(berlin)
		}, nil},
		{"contact methods and rules are sets", func(c *escalation.Config) {
			slices.Reverse(c.Users[0].ContactMethods)
			slices.Reverse(c.Users[0].NotificationRules)
		}, nil},
		{"restrictions are a set", func(c *escalation.Config) {
			slices.Reverse(c.Schedules[0].Layers[1].Restrictions)
		}, nil},
		{"create, update, delete of every kind in order", func(c *escalation.Config) {
			c.MaintenanceWindows[0].ID = "upgrade-2"
			c.Policies[0].Levels[0].DelayMinutes = 20
			c.Schedules[0].TimeZone = "Europe/Paris"
			c.Users = c.Users[:1]
			c.Services = append(c.Services, escalation.ServiceConfig{Name: "api"})
			c.Services[0].AckTimeout = time.Hour
			c.Services[0].EscalationPolicy = ""
		}, []escalation.Change{
			{Kind: "service", Name: "api", Op: "create"},
			{Kind: "service", Name: "checkout", Op: "update", Fields: []string{"escalation_policy", "ack_timeout"}},
			{Kind: "user", Name: "bob.m", Op: "delete"},
			{Kind: "schedule", Name: "checkout-oncall", Op: "update", Fields: []string{"time_zone"}},
			{Kind: "policy", Name: "checkout-primary", Op: "update", Fields: []string{"levels"}},
			{Kind: "maintenance_window", Name: "upgrade", Op: "delete"},
			{Kind: "maintenance_window", Name: "upgrade-2", Op: "create"},
		}},
		{"severity map value", func(c *escalation.Config) { c.Services[0].SeverityMap["warning"] = "SEV2" },
			[]escalation.Change{{Kind: "service", Name: "checkout", Op: "update", Fields: []string{"severity_map"}}}},
		{"level order matters", func(c *escalation.Config) { slices.Reverse(c.Policies[0].Levels) },
			[]escalation.Change{{Kind: "policy", Name: "checkout-primary", Op: "update", Fields: []string{"levels"}}}},
		{"target order matters", func(c *escalation.Config) { slices.Reverse(c.Policies[0].Levels[0].Targets) },
			[]escalation.Change{{Kind: "policy", Name: "checkout-primary", Op: "update", Fields: []string{"levels"}}}},
		{"layer order matters", func(c *escalation.Config) { slices.Reverse(c.Schedules[0].Layers) },
			[]escalation.Change{{Kind: "schedule", Name: "checkout-oncall", Op: "update", Fields: []string{"layers"}}}},
		{"participant order matters", func(c *escalation.Config) { slices.Reverse(c.Schedules[0].Layers[0].Participants) },
			[]escalation.Change{{Kind: "schedule", Name: "checkout-oncall", Op: "update", Fields: []string{"layers"}}}},
		{"override moved", func(c *escalation.Config) {
			c.Schedules[0].Overrides[0].End = c.Schedules[0].Overrides[0].End.Add(time.Hour)
		},
			[]escalation.Change{{Kind: "schedule", Name: "checkout-oncall", Op: "update", Fields: []string{"overrides"}}}},
		{"user fields", func(c *escalation.Config) {
			c.Users[0].Name = "Alice B."
			c.Users[0].NotificationRules[1].DelayMinutes = 6
		}, []escalation.Change{{Kind: "user", Name: "alice", Op: "update", Fields: []string{"name", "notification_rules"}}}},
		{"window reason", func(c *escalation.Config) { c.MaintenanceWindows[0].Reason = "" },
			[]escalation.Change{{Kind: "maintenance_window", Name: "upgrade", Op: "update", Fields: []string{"reason"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cur, des := validConfig(), validConfig()
			tt.edit(&des)
			if got := escalation.Diff(cur, des); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Diff =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestDiffFromAndToNothing(t *testing.T) {
	t.Parallel()
	c := validConfig()
	var ops []string
	for _, ch := range escalation.Diff(escalation.Config{}, c) {
		ops = append(ops, ch.Op+" "+ch.Kind+" "+ch.Name)
	}
	want := []string{
		"create service checkout", "create service sample-db",
		"create user alice", "create user bob.m",
		"create schedule checkout-oncall",
		"create policy checkout-primary",
		"create maintenance_window upgrade",
	}
	if !slices.Equal(ops, want) {
		t.Errorf("Diff(empty, c) = %q, want %q", ops, want)
	}
	for _, ch := range escalation.Diff(c, escalation.Config{}) {
		if ch.Op != escalation.OpDelete {
			t.Errorf("Diff(c, empty) has %+v", ch)
		}
	}
}
