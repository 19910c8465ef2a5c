package escalation_test

import (
	"strings"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/services/escalation"
	"github.com/firebreak-dev/firebreak/services/escalation/schedule"
)

var monday = time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC) // 09:00 in Berlin

// validConfig is a configuration Validate accepts, using every feature.
func validConfig() escalation.Config {
	return escalation.Config{
		Services: []escalation.ServiceConfig{
			{Name: "checkout", Description: "Checkout API", EscalationPolicy: "checkout-primary", AckTimeout: 30 * time.Minute,
				SeverityMap: map[string]string{"critical": "SEV1", "warning": "SEV3"}},
			{Name: "sample-db"},
		},
		Users: []escalation.User{
			{ID: "alice", Name: "Alice", Email: "alice@example.com", TimeZone: "Europe/Berlin",
				ContactMethods: []escalation.ContactMethod{
					{Name: "slack", Type: escalation.ContactSlack, Address: "U024BE7LH"},
					{Name: "mail", Type: escalation.ContactEmail, Address: "alice@example.com"},
					{Name: "hook", Type: escalation.ContactWebhook, Address: "https://hooks.example.com/p"},
					{Name: "teams", Type: escalation.ContactTeams, Address: "http://127.0.0.1:9000/teams"},
				},
				NotificationRules: []escalation.NotificationRule{{ContactMethod: "slack"}, {ContactMethod: "mail", DelayMinutes: 5}}},
			{ID: "bob.m", ContactMethods: []escalation.ContactMethod{{Name: "slack", Type: escalation.ContactSlack, Address: "bob@example.com"}}},
		},
		Schedules: []schedule.Schedule{{
			Name: "checkout-oncall", TimeZone: "Europe/Berlin",
			Layers: []schedule.Layer{
				{Name: "primary", Participants: []string{"alice", "bob.m"}, Start: monday, Shift: schedule.ShiftLength{Count: 1, Unit: schedule.Weeks}},
				{Participants: []string{"bob.m"}, Start: monday, Shift: schedule.ShiftLength{Count: 1, Unit: schedule.Days},
					Restrictions: []schedule.Restriction{
						{Kind: schedule.Weekly, StartDay: time.Monday, StartTime: "09:00", Duration: 8 * time.Hour},
						{Kind: schedule.Weekly, StartDay: time.Tuesday, StartTime: "09:00", Duration: 8 * time.Hour},
					}},
			},
			Overrides: []schedule.Override{
				{ID: "o1", User: "bob.m", Start: monday.AddDate(0, 1, 0), End: monday.AddDate(0, 1, 2)},
				{ID: "o2", User: "alice", Start: monday.AddDate(0, 1, 2), End: monday.AddDate(0, 1, 3)},
			},
		}},
		Policies: []escalation.Policy{{
			Name: "checkout-primary", Repeat: 2,
			Levels: []escalation.Level{
				{DelayMinutes: 15, Targets: []escalation.Target{{Type: "schedule", ID: "checkout-oncall"}, {Type: "slack_channel", ID: "#checkout"}}},
				{DelayMinutes: 30, Targets: []escalation.Target{{Type: "user", ID: "alice"}, {Type: "slack_channel", ID: "C024BE91L"}}},
			},
		}},
		MaintenanceWindows: []escalation.MaintenanceWindow{
			{ID: "upgrade", Service: "sample-db", Start: monday, End: monday.Add(time.Hour), Reason: "upgrade"},
		},
	}
}

func TestValidateAcceptsValid(t *testing.T) {
	t.Parallel()
	if errs := escalation.Validate(validConfig()); len(errs) > 0 {
		t.Fatalf("Validate(valid) = %v", errs)
	}
	if errs := escalation.Validate(escalation.Config{}); len(errs) > 0 {
		t.Fatalf("Validate(empty) = %v", errs)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		edit    func(c *escalation.Config)
		field   string
		problem string // substring
	}{
		// services
		{"service name missing", func(c *escalation.Config) { c.Services[1].Name = "" }, "services[1].name", "required"},
		{"service name malformed", func(c *escalation.Config) { c.Services[1].Name = "-db" }, "services[1].name", `"-db" is not a valid name`},
		{"service name too long", func(c *escalation.Config) { c.Services[1].Name = strings.Repeat("a", 101) }, "services[1].name", "not a valid name"},
		{"service name duplicate", func(c *escalation.Config) { c.Services[1].Name = "checkout" }, "services[1].name", `duplicate of services[0].name "checkout"`},
		{"service unknown policy", func(c *escalation.Config) { c.Services[0].EscalationPolicy = "nope" }, "services[0].escalation_policy", `unknown policy "nope"`},
		{"service negative ack timeout", func(c *escalation.Config) { c.Services[0].AckTimeout = -time.Minute }, "services[0].ack_timeout", "must not be negative"},
		{"service ack timeout too long", func(c *escalation.Config) { c.Services[0].AckTimeout = 8 * 24 * time.Hour }, "services[0].ack_timeout", "at most 168h0m0s"},
		{"severity map unknown key", func(c *escalation.Config) { c.Services[0].SeverityMap["warnin"] = "SEV2" }, "services[0].severity_map.warnin", `unknown alert severity "warnin"`},
		{"severity map odd key", func(c *escalation.Config) { c.Services[0].SeverityMap["a b"] = "SEV2" }, `services[0].severity_map["a b"]`, "unknown alert severity"},
		{"severity map bad value", func(c *escalation.Config) { c.Services[0].SeverityMap["warning"] = "SEV5" }, "services[0].severity_map.warning", `want one of SEV1, SEV2, SEV3, SEV4, got "SEV5"`},
		{"grouping without fields", func(c *escalation.Config) { c.Services[0].AlertGrouping = &escalation.AlertGrouping{} }, "services[0].alert_grouping.by", "at least one field"},
		{"grouping unknown field", func(c *escalation.Config) {
			c.Services[0].AlertGrouping = &escalation.AlertGrouping{By: []string{"source", "host"}}
		}, "services[0].alert_grouping.by[1]", `unknown field "host"`},
		{"grouping empty label", func(c *escalation.Config) {
			c.Services[0].AlertGrouping = &escalation.AlertGrouping{By: []string{"labels."}}
		}, "services[0].alert_grouping.by[0]", "names no labels key"},
		{"grouping field twice", func(c *escalation.Config) {
			c.Services[0].AlertGrouping = &escalation.AlertGrouping{By: []string{"source", "source"}}
		}, "services[0].alert_grouping.by[1]", "listed twice"},
		{"grouping negative window", func(c *escalation.Config) {
			c.Services[0].AlertGrouping = &escalation.AlertGrouping{By: []string{"source"}, Window: -time.Minute}
		}, "services[0].alert_grouping.window", "must not be negative"},
		{"grouping window too long", func(c *escalation.Config) {
			c.Services[0].AlertGrouping = &escalation.AlertGrouping{By: []string{"source"}, Window: 8 * 24 * time.Hour}
		}, "services[0].alert_grouping.window", "at most 168h0m0s"},

		// users
		{"user id missing", func(c *escalation.Config) { c.Users[1].ID = "" }, "users[1].id", "required"},
		{"user id upper case", func(c *escalation.Config) { c.Users[1].ID = "Bob" }, "users[1].id", `"Bob" is not a valid id`},
		{"user id duplicate", func(c *escalation.Config) { c.Users[1].ID = "alice" }, "users[1].id", `duplicate of users[0].id "alice"`},
		{"user time zone unknown", func(c *escalation.Config) { c.Users[0].TimeZone = "Europe/Berlinn" }, "users[0].time_zone", `unknown time zone "Europe/Berlinn"`},
		{"user time zone Local", func(c *escalation.Config) { c.Users[0].TimeZone = "Local" }, "users[0].time_zone", "not an IANA zone"},
		{"user email", func(c *escalation.Config) { c.Users[0].Email = "alice" }, "users[0].email", `"alice" is not an email address`},
		{"user email with name", func(c *escalation.Config) { c.Users[0].Email = "Alice <a@example.com>" }, "users[0].email", "not an email address"},
		{"contact method name missing", func(c *escalation.Config) { c.Users[0].ContactMethods[2].Name = "" }, "users[0].contact_methods[2].name", "required"},
		{"contact method name duplicate", func(c *escalation.Config) { c.Users[0].ContactMethods[2].Name = "slack" }, "users[0].contact_methods[2].name", `duplicate of users[0].contact_methods[0].name "slack"`},
		{"contact method type missing", func(c *escalation.Config) { c.Users[0].ContactMethods[2].Type = "" }, "users[0].contact_methods[2].type", "required"},
		{"contact method type unknown", func(c *escalation.Config) { c.Users[0].ContactMethods[2].Type = "sms" }, "users[0].contact_methods[2].type", `unknown contact method type "sms"`},
		{"contact method address missing", func(c *escalation.Config) { c.Users[0].ContactMethods[1].Address = "" }, "users[0].contact_methods[1].address", "required"},
		{"email address without @", func(c *escalation.Config) { c.Users[0].ContactMethods[1].Address = "alice.example.com" }, "users[0].contact_methods[1].address", "not an email address"},
		{"slack address", func(c *escalation.Config) { c.Users[0].ContactMethods[0].Address = "alice smith" }, "users[0].contact_methods[0].address", "neither a Slack user id"},
		{"slack address half an email", func(c *escalation.Config) { c.Users[0].ContactMethods[0].Address = "alice@" }, "users[0].contact_methods[0].address", "neither a Slack user id"},
		{"webhook over http", func(c *escalation.Config) { c.Users[0].ContactMethods[2].Address = "http://hooks.example.com/p" }, "users[0].contact_methods[2].address", "want https"},
		{"webhook not a URL", func(c *escalation.Config) { c.Users[0].ContactMethods[2].Address = "hooks.example.com/p" }, "users[0].contact_methods[2].address", "not an absolute URL"},
		{"webhook with credentials", func(c *escalation.Config) { c.Users[0].ContactMethods[2].Address = "https://u:p@hooks.example.com/" }, "users[0].contact_methods[2].address", "credentials"},
		{"teams ftp", func(c *escalation.Config) { c.Users[0].ContactMethods[3].Address = "ftp://example.com/x" }, "users[0].contact_methods[3].address", "want an https URL"},
		{"rule unknown method", func(c *escalation.Config) { c.Users[0].NotificationRules[1].ContactMethod = "pager" }, "users[0].notification_rules[1].contact_method", `unknown contact method "pager" of user "alice"`},
		{"rule method missing", func(c *escalation.Config) { c.Users[0].NotificationRules[1].ContactMethod = "" }, "users[0].notification_rules[1].contact_method", "required"},
		{"rule negative delay", func(c *escalation.Config) { c.Users[0].NotificationRules[1].DelayMinutes = -1 }, "users[0].notification_rules[1].delay_minutes", "must not be negative"},
		{"rule delay too long", func(c *escalation.Config) { c.Users[0].NotificationRules[1].DelayMinutes = 10081 }, "users[0].notification_rules[1].delay_minutes", "at most 10080"},
		{"rule duplicate", func(c *escalation.Config) { c.Users[0].NotificationRules[1] = c.Users[0].NotificationRules[0] }, "users[0].notification_rules[1]", "duplicate of notification_rules[0]"},

		// schedules
		{"schedule name missing", func(c *escalation.Config) { c.Schedules[0].Name = "" }, "schedules[0].name", "required"},
		{"schedule name duplicate", func(c *escalation.Config) { c.Schedules = append(c.Schedules, c.Schedules[0]) }, "schedules[1].name", "duplicate of schedules[0].name"},
		{"schedule time zone", func(c *escalation.Config) { c.Schedules[0].TimeZone = "Mars/Olympus" }, "schedules[0].time_zone", `unknown time zone "Mars/Olympus"`},
		{"schedule without layers", func(c *escalation.Config) { c.Schedules[0].Layers = nil }, "schedules[0].layers", "at least one layer"},
		{"negative shift", func(c *escalation.Config) { c.Schedules[0].Layers[1].Shift.Count = -1 }, "schedules[0].layers[1].shift.count", "must be positive"},
		{"zero shift", func(c *escalation.Config) { c.Schedules[0].Layers[0].Shift.Count = 0 }, "schedules[0].layers[0].shift.count", "must be positive"},
		{"shift unit", func(c *escalation.Config) { c.Schedules[0].Layers[0].Shift.Unit = 0 }, "schedules[0].layers[0].shift.unit", "want hours, days or weeks"},
		{"layer start", func(c *escalation.Config) { c.Schedules[0].Layers[0].Start = time.Time{} }, "schedules[0].layers[0].start", "required"},
		{"unknown participant", func(c *escalation.Config) { c.Schedules[0].Layers[0].Participants[1] = "dave" }, "schedules[0].layers[0].participants[1]", `unknown user "dave"`},
		{"no participants", func(c *escalation.Config) { c.Schedules[0].Layers[0].Participants = nil }, "schedules[0].layers[0].participants", "at least one participant"},
		{"restriction start time", func(c *escalation.Config) { c.Schedules[0].Layers[1].Restrictions[0].StartTime = "9:00" }, "schedules[0].layers[1].restrictions[0].start_time", `want HH:MM, got "9:00"`},
		{"restriction duration", func(c *escalation.Config) { c.Schedules[0].Layers[1].Restrictions[1].Duration = 25 * time.Hour * 7 }, "schedules[0].layers[1].restrictions[1].duration", "at most 168h0m0s"},
		{"overlapping restrictions", func(c *escalation.Config) { c.Schedules[0].Layers[1].Restrictions[1].StartDay = time.Monday }, "schedules[0].layers[1].restrictions[1]", "overlaps restrictions[0]"},
		{"daily restriction overlapping weekly", func(c *escalation.Config) {
			c.Schedules[0].Layers[1].Restrictions[1] = schedule.Restriction{Kind: schedule.Daily, StartTime: "16:00", Duration: time.Hour}
		}, "schedules[0].layers[1].restrictions[1]", "overlaps restrictions[0]"},
		{"restriction overlapping across the week's end", func(c *escalation.Config) {
			c.Schedules[0].Layers[1].Restrictions = []schedule.Restriction{
				{Kind: schedule.Weekly, StartDay: time.Saturday, StartTime: "22:00", Duration: 27 * time.Hour},
				{Kind: schedule.Weekly, StartDay: time.Sunday, StartTime: "00:30", Duration: time.Hour},
			}
		}, "schedules[0].layers[1].restrictions[1]", "overlaps restrictions[0]"},
		{"override unknown user", func(c *escalation.Config) { c.Schedules[0].Overrides[0].User = "dave" }, "schedules[0].overrides[0].user", `unknown user "dave"`},
		{"override end before start", func(c *escalation.Config) {
			o := &c.Schedules[0].Overrides[0]
			o.Start, o.End = o.End, o.Start
		}, "schedules[0].overrides[0]", "end must be after start"},
		{"override id duplicate", func(c *escalation.Config) { c.Schedules[0].Overrides[1].ID = "o1" }, "schedules[0].overrides[1].id", "duplicate of overrides[0].id"},
		{"overlapping overrides", func(c *escalation.Config) { c.Schedules[0].Overrides[1].Start = monday.AddDate(0, 1, 1) }, "schedules[0].overrides[1]", "overlaps overrides[0] (o1)"},

		// policies
		{"policy name missing", func(c *escalation.Config) { c.Policies[0].Name = "" }, "policies[0].name", "required"},
		{"policy name duplicate", func(c *escalation.Config) { c.Policies = append(c.Policies, c.Policies[0]) }, "policies[1].name", "duplicate of policies[0].name"},
		{"policy without levels", func(c *escalation.Config) { c.Policies[0].Levels = nil }, "policies[0].levels", "at least one level"},
		{"repeat negative", func(c *escalation.Config) { c.Policies[0].Repeat = -1 }, "policies[0].repeat", "want 0 to 9, got -1"},
		{"repeat too many", func(c *escalation.Config) { c.Policies[0].Repeat = 10 }, "policies[0].repeat", "want 0 to 9, got 10"},
		{"level without targets", func(c *escalation.Config) { c.Policies[0].Levels[1].Targets = nil }, "policies[0].levels[1].targets", "at least one target"},
		{"level delay zero", func(c *escalation.Config) { c.Policies[0].Levels[0].DelayMinutes = 0 }, "policies[0].levels[0].delay_minutes", "at least 1 minute"},
		{"level delay too long", func(c *escalation.Config) { c.Policies[0].Levels[0].DelayMinutes = 10081 }, "policies[0].levels[0].delay_minutes", "at most 10080"},
		{"target unknown user", func(c *escalation.Config) { c.Policies[0].Levels[1].Targets[0].ID = "dave" }, "policies[0].levels[1].targets[0].id", `unknown user "dave"`},
		{"target unknown schedule", func(c *escalation.Config) { c.Policies[0].Levels[0].Targets[0].ID = "ops" }, "policies[0].levels[0].targets[0].id", `unknown schedule "ops"`},
		{"target bad slack channel", func(c *escalation.Config) { c.Policies[0].Levels[0].Targets[1].ID = "ops" }, "policies[0].levels[0].targets[1].id", `"ops" is not a Slack channel`},
		{"target type unknown", func(c *escalation.Config) { c.Policies[0].Levels[0].Targets[1].Type = "team" }, "policies[0].levels[0].targets[1].type", `unknown target type "team"`},
		{"target type missing", func(c *escalation.Config) { c.Policies[0].Levels[0].Targets[1].Type = "" }, "policies[0].levels[0].targets[1].type", "required"},
		{"target id missing", func(c *escalation.Config) { c.Policies[0].Levels[0].Targets[1].ID = "" }, "policies[0].levels[0].targets[1].id", "required"},
		{"target duplicate", func(c *escalation.Config) { c.Policies[0].Levels[1].Targets[1] = c.Policies[0].Levels[1].Targets[0] }, "policies[0].levels[1].targets[1]", "duplicate of targets[0]"},

		// maintenance windows
		{"window id missing", func(c *escalation.Config) { c.MaintenanceWindows[0].ID = "" }, "maintenance_windows[0].id", "required"},
		{"window id duplicate", func(c *escalation.Config) {
			c.MaintenanceWindows = append(c.MaintenanceWindows, c.MaintenanceWindows[0])
		}, "maintenance_windows[1].id", `duplicate of maintenance_windows[0].id "upgrade"`},
		{"window unknown service", func(c *escalation.Config) { c.MaintenanceWindows[0].Service = "billing" }, "maintenance_windows[0].service", `unknown service "billing"`},
		{"window service missing", func(c *escalation.Config) { c.MaintenanceWindows[0].Service = "" }, "maintenance_windows[0].service", "required"},
		{"window end before start", func(c *escalation.Config) { c.MaintenanceWindows[0].End = monday }, "maintenance_windows[0].end", "must be after start"},
		{"window start missing", func(c *escalation.Config) { c.MaintenanceWindows[0].Start = time.Time{} }, "maintenance_windows[0].start", "required"},
	}
	// Renaming an object leaves its references dangling: these cases
	// expect that many errors after the first.
	more := map[string]int{
		"service name missing": 1, "service name malformed": 1, "service name too long": 1, "service name duplicate": 1,
		"user id missing": 3, "user id upper case": 3, "user id duplicate": 3,
		"schedule name missing": 1, "policy name missing": 1,
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := validConfig()
			tt.edit(&c)
			errs := escalation.Validate(c)
			if want := 1 + more[tt.name]; len(errs) != want {
				t.Fatalf("Validate = %d errors %v, want %d", len(errs), errs, want)
			}
			if errs[0].Field != tt.field || !strings.Contains(errs[0].Problem, tt.problem) {
				t.Errorf("Validate = %q, want %s: …%s…", errs[0].Error(), tt.field, tt.problem)
			}
		})
	}
}

// TestValidateReportsEverything checks that problems do not hide each other.
func TestValidateReportsEverything(t *testing.T) {
	t.Parallel()
	c := validConfig()
	c.Services[0].EscalationPolicy = "nope"
	c.Users[0].TimeZone = "Nowhere/Else"
	c.Schedules[0].Layers[0].Shift.Count = -1
	c.Schedules[0].TimeZone = "Bad/Zone"
	c.Policies[0].Levels[0].Targets[0].ID = "dave"
	c.MaintenanceWindows[0].Service = "billing"
	got := escalation.Validate(c)
	want := []string{
		"services[0].escalation_policy",
		"users[0].time_zone",
		"schedules[0].time_zone",
		"schedules[0].layers[0].shift.count",
		"policies[0].levels[0].targets[0].id",
		"maintenance_windows[0].service",
	}
	if len(got) != len(want) {
		t.Fatalf("Validate = %v, want fields %v", got, want)
	}
	for i, e := range got {
		if e.Field != want[i] {
			t.Errorf("error %d = %v, want field %s", i, e, want[i])
		}
	}
	if s := got[0].Error(); s != `services[0].escalation_policy: unknown policy "nope"` {
		t.Errorf("Error() = %q", s)
	}
}

func TestValidateSlackUserGroup(t *testing.T) {
	t.Parallel()
	for id, ok := range map[string]bool{"@oncall-web": true, "S0614TZR7": true, "oncall": false, "@": false, "#ops": false} {
		c := escalation.Config{
			Users:    []escalation.User{{ID: "alice"}},
			Policies: []escalation.Policy{{Name: "p", Levels: []escalation.Level{{DelayMinutes: 5, Targets: []escalation.Target{{Type: escalation.TargetSlackUserGroup, ID: id}}}}}},
		}
		errs := escalation.Validate(c)
		if ok != (len(errs) == 0) {
			t.Errorf("user group %q: errors %v", id, errs)
		}
		if !ok && (len(errs) != 1 || errs[0].Field != "policies[0].levels[0].targets[0].id") {
			t.Errorf("user group %q: want one error on the target id, got %v", id, errs)
		}
	}
}
