package configfile_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/services/escalation"
	"github.com/firebreak-dev/firebreak/services/escalation/configfile"
	"github.com/firebreak-dev/firebreak/services/escalation/schedule"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// rich is a valid configuration using every feature of the format,
// including the ones Marshal writes in their longer forms.
func rich() escalation.Config {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	at := func(y int, m time.Month, d, h, mi int) time.Time {
		return time.Date(y, m, d, h, mi, 0, 0, berlin).UTC()
	}
	return escalation.Config{
		Services: []escalation.ServiceConfig{
			{Name: "checkout", Description: "Checkout API: payments & carts", EscalationPolicy: "checkout-primary",
				AckTimeout: 90 * time.Minute, SeverityMap: map[string]string{"info": "SEV4", "critical": "SEV1", "warning": "SEV3"}},
			{Name: "search", AckTimeout: 1500 * time.Millisecond,
				AlertGrouping: &escalation.AlertGrouping{By: []string{"labels.cluster", "details.custom_details.region"}, Window: 45 * time.Minute}},
			{Name: "sample-db", EscalationPolicy: "db"},
		},
		Users: []escalation.User{
			{ID: "alice", Name: "Alice Schmidt", Email: "alice@example.com", TimeZone: "Europe/Berlin",
				ContactMethods: []escalation.ContactMethod{
					{Name: "slack", Type: "slack", Address: "U024BE7LH"},
					{Name: "mail", Type: "email", Address: "alice@example.com"},
					{Name: "hook", Type: "webhook", Address: "https://hooks.example.com/page?user=alice"},
					{Name: "teams", Type: "teams", Address: "http://127.0.0.1:9000/teams"},
				},
				NotificationRules: []escalation.NotificationRule{
					{ContactMethod: "slack"}, {ContactMethod: "mail", DelayMinutes: 5}, {ContactMethod: "hook", DelayMinutes: 90},
				}},
			{ID: "bob", ContactMethods: []escalation.ContactMethod{{Name: "slack", Type: "slack", Address: "bob@example.com"}}},
			{ID: "carol.j", Name: "yes", TimeZone: "America/New_York"},
		},
		Schedules: []schedule.Schedule{
			{
				Name: "checkout-oncall", TimeZone: "Europe/Berlin",
				Layers: []schedule.Layer{
					{Name: "primary", Participants: []string{"alice", "bob", "carol.j"}, Start: at(2026, 1, 5, 9, 0),
						Shift: schedule.ShiftLength{Count: 1, Unit: schedule.Weeks}},
					{Name: "office", Participants: []string{"carol.j", "bob"}, Start: at(2026, 1, 5, 9, 0),
						Shift: schedule.ShiftLength{Count: 2, Unit: schedule.Days},
						Restrictions: []schedule.Restriction{
							{Kind: schedule.Weekly, StartDay: time.Monday, StartTime: "09:00", Duration: 8 * time.Hour},
							{Kind: schedule.Weekly, StartDay: time.Tuesday, StartTime: "09:00", Duration: 8 * time.Hour},
							{Kind: schedule.Weekly, StartDay: time.Wednesday, StartTime: "09:00", Duration: 4 * time.Hour},
							{Kind: schedule.Weekly, StartDay: time.Thursday, StartTime: "09:00", Duration: 8 * time.Hour},
							{Kind: schedule.Weekly, StartDay: time.Friday, StartTime: "18:00", Duration: 63 * time.Hour},
						}},
					{Name: "nights", Participants: []string{"bob"}, Start: time.Date(2026, 1, 5, 20, 0, 30, 0, time.UTC),
						Shift: schedule.ShiftLength{Count: 12, Unit: schedule.Hours},
						Restrictions: []schedule.Restriction{
							{Kind: schedule.Daily, StartTime: "22:00", Duration: 8 * time.Hour},
						}},
				},
				Overrides: []schedule.Override{
					{ID: "valentines", User: "bob", Start: at(2026, 2, 13, 18, 0), End: at(2026, 2, 16, 9, 0)},
					// 02:30 on 25 October 2026 happens twice in Berlin; this
					// is the second time, which only RFC 3339 can say.
					{ID: "fall-back", User: "alice", Start: time.Date(2026, 10, 25, 1, 30, 0, 0, time.UTC), End: at(2026, 10, 25, 9, 0)},
				},
			},
			{
				Name: "db", TimeZone: "UTC",
				Layers: []schedule.Layer{{Participants: []string{"alice"}, Start: at(2026, 1, 1, 0, 0), Shift: schedule.ShiftLength{Count: 1, Unit: schedule.Days}}},
			},
		},
		Policies: []escalation.Policy{
			{Name: "checkout-primary", Description: "on-call, then the lead", Repeat: 2, Levels: []escalation.Level{
				{DelayMinutes: 15, Targets: []escalation.Target{{Type: "schedule", ID: "checkout-oncall"}, {Type: "slack_channel", ID: "#checkout"}}},
				{DelayMinutes: 60, Targets: []escalation.Target{{Type: "user", ID: "alice"}, {Type: "slack_channel", ID: "C024BE91L"}}},
			}},
			{Name: "db", Levels: []escalation.Level{{DelayMinutes: 1, Targets: []escalation.Target{{Type: "schedule", ID: "db"}}}}},
		},
		MaintenanceWindows: []escalation.MaintenanceWindow{
			{ID: "upgrade", Service: "sample-db", Start: time.Date(2026, 1, 10, 22, 0, 0, 0, time.UTC),
				End: time.Date(2026, 1, 11, 2, 0, 0, 500, time.UTC), Reason: "PostgreSQL 18"},
		},
	}
}

func TestRichIsValid(t *testing.T) {
	t.Parallel()
	if errs := escalation.Validate(rich()); len(errs) > 0 {
		t.Fatal(errs)
	}
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	c := rich()
	out, err := configfile.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "rich.yaml")
	if *update {
		if err := os.WriteFile(golden, out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, want) {
		t.Errorf("Marshal differs from %s (run go test -update):\n%s", golden, out)
	}
	back, _, err := configfile.Parse(out)
	if err != nil {
		t.Fatalf("Parse(Marshal(c)): %v", err)
	}
	if !reflect.DeepEqual(back, c) {
		t.Errorf("Parse(Marshal(c)) != c\n got %+v\nwant %+v\ndiff %v", back, c, escalation.Diff(c, back))
	}
	again, err := configfile.Marshal(back)
	if err != nil || !bytes.Equal(again, out) {
		t.Errorf("Marshal is not stable (err %v):\n%s", err, again)
	}
}

func TestMarshalEmpty(t *testing.T) {
	t.Parallel()
	out, err := configfile.Marshal(escalation.Config{})
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := configfile.Parse(out)
	if err != nil || !reflect.DeepEqual(c, escalation.Config{}) {
		t.Errorf("Parse(Marshal(empty)) = %+v, %v from\n%s", c, err, out)
	}
}

func TestMarshalRefusesWhatTheFormatCannotSay(t *testing.T) {
	t.Parallel()
	c := rich()
	c.Schedules[0].Layers[0].Shift.Unit = 0
	if _, err := configfile.Marshal(c); err == nil || !strings.Contains(err.Error(), "schedules[0]: layers[0].shift.unit") {
		t.Errorf("Marshal(unit 0) = %v", err)
	}
	c = rich()
	c.Schedules[0].Layers[1].Restrictions[0].Kind = 7
	if _, err := configfile.Marshal(c); err == nil || !strings.Contains(err.Error(), "layers[1].restrictions[0].kind") {
		t.Errorf("Marshal(kind 7) = %v", err)
	}
}

func TestParseFriendlyForms(t *testing.T) {
	t.Parallel()
	c, _, err := configfile.Parse([]byte(`
schedules:
  - name: s
    layers:
      - participants: [a]
        start: 2026-03-29 01:00
        shift: 1d
        restrictions:
          - {days: [Sat, sun], from: "22:00", to: "06:00"}
          - {days: [mon], from: "00:00", to: "24:00"}
          - {daily: true, from: "12:00", duration: 30m}
    overrides:
      - {id: o, user: a, start: 2026-10-25 02:30, end: "2026-10-25T03:30:00+01:00"}
    time_zone: Europe/Berlin   # after the times that use it
policies:
  - name: p
    levels:
      - delay: 1h30m
        targets: [{user: a}]
`))
	if err != nil {
		t.Fatal(err)
	}
	l := c.Schedules[0].Layers[0]
	if want := time.Date(2026, 3, 29, 0, 0, 0, 0, time.UTC); !l.Start.Equal(want) || l.Start.Location() != time.UTC {
		t.Errorf("start = %v, want %v in UTC", l.Start, want)
	}
	wantR := []schedule.Restriction{
		{Kind: schedule.Weekly, StartDay: time.Saturday, StartTime: "22:00", Duration: 8 * time.Hour},
		{Kind: schedule.Weekly, StartDay: time.Sunday, StartTime: "22:00", Duration: 8 * time.Hour},
		{Kind: schedule.Weekly, StartDay: time.Monday, StartTime: "00:00", Duration: 24 * time.Hour},
		{Kind: schedule.Daily, StartTime: "12:00", Duration: 30 * time.Minute},
	}
	if !reflect.DeepEqual(l.Restrictions, wantR) {
		t.Errorf("restrictions = %+v, want %+v", l.Restrictions, wantR)
	}
	// 02:30 on the fall-back night is its first occurrence, as in the engine.
	o := c.Schedules[0].Overrides[0]
	if want := time.Date(2026, 10, 25, 0, 30, 0, 0, time.UTC); !o.Start.Equal(want) {
		t.Errorf("override start = %v, want %v", o.Start, want)
	}
	if want := time.Date(2026, 10, 25, 2, 30, 0, 0, time.UTC); !o.End.Equal(want) {
		t.Errorf("override end = %v, want %v", o.End, want)
	}
	if d := c.Policies[0].Levels[0].DelayMinutes; d != 90 {
		t.Errorf("delay = %d minutes, want 90", d)
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want []string // every error, in order
	}{
		{"unknown field", `
policies:
  - name: p
    sevrity: SEV1
    levels: []
`, []string{`line 4: unknown field "sevrity" in policies[0]`}},
		{"unknown top-level field", "servics: []\n", []string{`line 1: unknown field "servics" at the top level`}},
		{"every unknown field at once", `
users:
  - id: a
    contact_methods:
      - {name: s, type: slack, adress: U1}
    notification_rules:
      - {contact_method: s, delay_minutes: 5}
`, []string{
			`line 5: unknown field "adress" in users[0].contact_methods[0]`,
			`line 7: unknown field "delay_minutes" in users[0].notification_rules[0]`,
		}},
		{"duplicate field", "services:\n  - name: a\n    name: b\n", []string{`line 3: duplicate field "name" in services[0] (first on line 2)`}},
		{"list expected", "users:\n  id: a\n", []string{`line 2: users: want a list, got a mapping`}},
		{"mapping expected", "services:\n  - checkout\n", []string{`line 2: services[0]: want a mapping, got "checkout"`}},
		{"string expected", "services:\n  - name: [a, b]\n", []string{`line 2: services[0].name: want a string, got a list`}},
		{"integer expected", "policies:\n  - name: p\n    repeat: twice\n", []string{`line 3: policies[0].repeat: want an integer, got "twice"`}},
		{"bad duration", "services:\n  - name: a\n    ack_timeout: 30 minutes\n", []string{
			`line 3: services[0].ack_timeout: want a duration like 30m, 1h30m or 45s, got "30 minutes"`}},
		{"delay not whole minutes", "policies:\n  - name: p\n    levels:\n      - {delay: 90s, targets: [{user: a}]}\n", []string{
			`line 4: policies[0].levels[0].delay_minutes: want whole minutes, got "90s"`}},
		{"bad shift", "schedules:\n  - layers:\n      - shift: 1 week\n", []string{
			`line 3: schedules[0].layers[0].shift: want a count and a unit like 12h, 1d or 2w, got "1 week"`}},
		{"bad day name", "schedules:\n  - layers:\n      - restrictions:\n          - days: [mon, tues]\n            from: \"09:00\"\n            to: \"17:00\"\n", []string{
			`line 4: schedules[0].layers[0].restrictions[0].days[1]: want a day like mon, tue, wed, thu, fri, sat or sun, got "tues"`}},
		{"bad clock", "schedules:\n  - layers:\n      - restrictions: [{daily: true, from: \"9am\", to: \"17:00\"}]\n", []string{
			`line 3: schedules[0].layers[0].restrictions[0].from: want a time of day HH:MM, got "9am"`}},
		{"to equals from", "schedules:\n  - layers:\n      - restrictions: [{daily: true, from: \"09:00\", to: \"09:00\"}]\n", []string{
			`line 3: schedules[0].layers[0].restrictions[0]: to equals from; for a whole day write from: "00:00", to: "24:00" or duration: 24h`}},
		{"to and duration", "schedules:\n  - layers:\n      - restrictions: [{daily: true, from: \"09:00\", to: \"10:00\", duration: 1h}]\n", []string{
			`line 3: schedules[0].layers[0].restrictions[0]: give to or duration, not both`}},
		{"days and daily", "schedules:\n  - layers:\n      - restrictions: [{daily: true, days: [mon], from: \"09:00\", to: \"10:00\"}]\n", []string{
			`line 3: schedules[0].layers[0].restrictions[0]: give days or daily: true, not both`}},
		{"neither days nor daily", "schedules:\n  - layers:\n      - restrictions: [{from: \"09:00\", to: \"10:00\"}]\n", []string{
			`line 3: schedules[0].layers[0].restrictions[0]: want days: [mon, …] or daily: true`}},
		{"bad boolean", "schedules:\n  - layers:\n      - restrictions: [{daily: yes, from: \"09:00\", to: \"10:00\"}]\n", []string{
			`line 3: schedules[0].layers[0].restrictions[0].daily: want true or false, got "yes"`}},
		{"local time in a gap", "schedules:\n  - time_zone: Europe/Berlin\n    layers:\n      - start: 2026-03-29 02:30\n", []string{
			`line 4: schedules[0].layers[0].start: 2026-03-29 02:30 does not exist in Europe/Berlin (the clocks skip it)`}},
		{"bad time", "schedules:\n  - layers:\n      - start: next monday\n", []string{
			`line 3: schedules[0].layers[0].start: want a time like 2026-01-05 09:00 (in the schedule's time zone) or 2026-01-05T09:00:00+01:00, got "next monday"`}},
		{"window time needs an offset", "maintenance_windows:\n  - start: 2026-01-10 22:00\n", []string{
			`line 2: maintenance_windows[0].start: want an RFC 3339 time like 2026-01-10T22:00:00Z, got "2026-01-10 22:00"`}},
		{"target with two types", "policies:\n  - levels:\n      - targets:\n          - {user: a, schedule: b}\n", []string{
			`line 4: policies[0].levels[0].targets[0]: want exactly one of user, schedule, slack_channel or slack_usergroup`}},
		{"empty target", "policies:\n  - levels:\n      - targets:\n          -\n", []string{
			`line 4: policies[0].levels[0].targets[0]: want exactly one of user, schedule, slack_channel or slack_usergroup`}},
		{"unknown target type", "policies:\n  - levels:\n      - targets:\n          - team: a\n", []string{
			`line 4: unknown field "team" in policies[0].levels[0].targets[0]`}},
		{"not a mapping", "- services\n", []string{`line 1: the file: want a mapping, got a list`}},
		{"alias", "users:\n  - &a {id: a}\n  - *a\n", []string{`line 3: users[1]: aliases (*a) are not supported`}},
		{"syntax error", "services:\n  - name: a\n    description: x: y\n", []string{"line 3: mapping values are not allowed in this context"}},
		{"tab indentation", "services:\n\t- name: a\n", []string{"line 2: found character that cannot start any token"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, idx, err := configfile.Parse([]byte(tt.in))
			if err == nil {
				t.Fatal("Parse succeeded")
			}
			if idx != nil {
				t.Error("Parse returned an Index with an error")
			}
			var got []string
			for _, e := range configfile.Errors(err) {
				got = append(got, e.Error())
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("errors =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestParseEmpty(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"", "# nothing yet\n", "{}\n", "services:\n"} {
		c, _, err := configfile.Parse([]byte(in))
		if err != nil || !reflect.DeepEqual(c, escalation.Config{}) {
			t.Errorf("Parse(%q) = %+v, %v", in, c, err)
		}
	}
}

func TestIndexLine(t *testing.T) {
	t.Parallel()
	in := `services:                             # 1
  - name: checkout                    # 2
    escalation_policy: nope           # 3
    severity_map:                     # 4
      warnin: SEV2                    # 5
users:                                # 6
  - id: alice                         # 7
    time_zone: Mars/Base              # 8
    contact_methods:                  # 9
      - name: slack                   # 10
        type: slack                   # 11
        address: no body              # 12
    notification_rules:               # 13
      - {contact_method: pager, delay: 0m}  # 14
schedules:                            # 15
  - name: s                           # 16
    time_zone: Europe/Berlin          # 17
    layers:                           # 18
      - participants: [alice, dave]   # 19
        start: 2026-01-05 09:00       # 20
        shift: -1w                    # 21
        restrictions:                 # 22
          - daily: true               # 23
            from: "09:00"             # 24
            to: "17:00"               # 25
          - days: [mon, tue]          # 26
            from: "18:00"             # 27
            duration: 1h              # 28
policies:                             # 29
  - name: p                           # 30
    levels:                           # 31
      - delay: 0m                     # 32
        targets:                      # 33
          - user: bob                 # 34
`
	c, idx, err := configfile.Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	lines := map[string]int{
		"services":                                          1,
		"services[0]":                                       2,
		"services[0].name":                                  2,
		"services[0].escalation_policy":                     3,
		"services[0].severity_map":                          4,
		"services[0].severity_map.warnin":                   5,
		`services[0].severity_map["a b"]`:                   4, // not in the file: its map
		"services[0].description":                           2, // not in the file: its service
		"users[0].contact_methods[0].type":                  11,
		"users[0].notification_rules[0].contact_method":     14,
		"users[0].notification_rules[0].delay_minutes":      14,
		"schedules[0].layers[0].participants[1]":            19,
		"schedules[0].layers[0].shift.count":                21,
		"schedules[0].layers[0].restrictions[0].start_time": 24,
		"schedules[0].layers[0].restrictions[0].duration":   25,
		"schedules[0].layers[0].restrictions[2]":            26,
		"schedules[0].layers[0].restrictions[2].start_day":  26,
		"schedules[0].layers[0].restrictions[2].duration":   28,
		"policies[0].levels[0].delay_minutes":               32,
		"policies[0].levels[0].targets[0].id":               34,
		"policies[0].levels[0].targets[0].type":             34,
		"policies[9].levels":                                29,
		"maintenance_windows[0]":                            0,
		"":                                                  0,
	}
	for path, want := range lines {
		if got := idx.Line(path); got != want {
			t.Errorf("Line(%q) = %d, want %d", path, got, want)
		}
	}
	// Every problem Validate finds in the file maps to the line that has it.
	want := map[string]int{
		"services[0].escalation_policy":                 3,
		"services[0].severity_map.warnin":               5,
		"users[0].time_zone":                            8,
		"users[0].contact_methods[0].address":           12,
		"users[0].notification_rules[0].contact_method": 14,
		"schedules[0].layers[0].shift.count":            21,
		"schedules[0].layers[0].participants[1]":        19,
		"policies[0].levels[0].delay_minutes":           32,
		"policies[0].levels[0].targets[0].id":           34,
	}
	errs := escalation.Validate(c)
	for _, e := range errs {
		if got := idx.Line(e.Field); got != want[e.Field] {
			t.Errorf("%v: line %d, want %d", e, got, want[e.Field])
		}
	}
	if len(errs) != len(want) {
		t.Errorf("Validate = %v, want errors at %v", errs, want)
	}
	var nilIndex *configfile.Index
	if nilIndex.Line("services") != 0 {
		t.Error("nil Index has lines")
	}
}
