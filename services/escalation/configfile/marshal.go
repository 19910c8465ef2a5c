package configfile

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/firebreak-dev/firebreak/services/escalation"
	"github.com/firebreak-dev/firebreak/services/escalation/schedule"
)

// header starts every file Marshal writes.
const header = "firebreak paging configuration: `firebreak apply -f FILE` sets it.\nFormat: docs/configuration-as-code.md"

// Marshal writes c in the format Parse reads; Parse(Marshal(c)) gives back
// c, up to time zones (times come back in UTC) and nil versus empty lists.
// Empty optional fields are left out, and the output is stable: the same
// configuration always gives the same bytes. It fails only on a value the
// format cannot express (a shift or restriction of unknown unit, kind or
// day).
func Marshal(c escalation.Config) ([]byte, error) {
	return MarshalDocument(Document{Config: c})
}

// MarshalDocument is Marshal for a whole file, integrations included
// (never their keys, which exist only in the answer that created them).
func MarshalDocument(d Document) ([]byte, error) {
	c := d.Config
	root := mapping(0)
	if len(c.Services) > 0 {
		list := sequence(0)
		for _, s := range c.Services {
			list.Content = append(list.Content, service(s))
		}
		add(root, "services", list)
	}
	if len(c.Users) > 0 {
		list := sequence(0)
		for _, u := range c.Users {
			list.Content = append(list.Content, user(u))
		}
		add(root, "users", list)
	}
	if len(c.Schedules) > 0 {
		list := sequence(0)
		for i, s := range c.Schedules {
			n, err := scheduleNode(s)
			if err != nil {
				return nil, fmt.Errorf("schedules[%d]: %w", i, err)
			}
			list.Content = append(list.Content, n)
		}
		add(root, "schedules", list)
	}
	if len(c.Policies) > 0 {
		list := sequence(0)
		for _, p := range c.Policies {
			list.Content = append(list.Content, policy(p))
		}
		add(root, "policies", list)
	}
	if len(c.MaintenanceWindows) > 0 {
		list := sequence(0)
		for _, m := range c.MaintenanceWindows {
			n := mapping(0)
			add(n, "id", str(m.ID))
			add(n, "service", str(m.Service))
			addTime(n, "start", m.Start, nil)
			addTime(n, "end", m.End, nil)
			addStr(n, "reason", m.Reason)
			list.Content = append(list.Content, n)
		}
		add(root, "maintenance_windows", list)
	}
	if len(d.Integrations) > 0 {
		list := sequence(0)
		for _, in := range d.Integrations {
			n := mapping(0)
			add(n, "name", str(in.Name))
			add(n, "service", str(in.Service))
			add(n, "type", str(in.Type))
			list.Content = append(list.Content, n)
		}
		add(root, "integrations", list)
	}
	doc := &yaml.Node{Kind: yaml.DocumentNode, HeadComment: header, Content: []*yaml.Node{root}}
	if len(root.Content) == 0 {
		root.Style = yaml.FlowStyle // {}
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	// A blank line before each top-level section after the first.
	lines := strings.SplitAfter(buf.String(), "\n")
	var out strings.Builder
	for i, l := range lines {
		if i > 0 && l != "" && l[0] >= 'a' && l[0] <= 'z' && lines[i-1] != "\n" {
			out.WriteString("\n")
		}
		out.WriteString(l)
	}
	return []byte(out.String()), nil
}

func service(s escalation.ServiceConfig) *yaml.Node {
	n := mapping(0)
	add(n, "name", str(s.Name))
	addStr(n, "description", s.Description)
	addStr(n, "escalation_policy", s.EscalationPolicy)
	if s.AckTimeout != 0 {
		add(n, "ack_timeout", str(formatDuration(s.AckTimeout)))
	}
	if len(s.SeverityMap) > 0 {
		order := []string{"critical", "error", "warning", "info"}
		keys := make([]string, 0, len(s.SeverityMap))
		for k := range s.SeverityMap {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, func(a, b string) int {
			ia, ib := slices.Index(order, a), slices.Index(order, b)
			if ia < 0 {
				ia = len(order)
			}
			if ib < 0 {
				ib = len(order)
			}
			if ia != ib {
				return ia - ib
			}
			return strings.Compare(a, b)
		})
		m := mapping(yaml.FlowStyle)
		for _, k := range keys {
			add(m, k, str(s.SeverityMap[k]))
		}
		add(n, "severity_map", m)
	}
	if g := s.AlertGrouping; g != nil {
		m := mapping(yaml.FlowStyle)
		by := sequence(yaml.FlowStyle)
		for _, f := range g.By {
			by.Content = append(by.Content, str(f))
		}
		add(m, "by", by)
		if g.Window != 0 {
			add(m, "window", str(formatDuration(g.Window)))
		}
		add(n, "alert_grouping", m)
	}
	return n
}

func user(u escalation.User) *yaml.Node {
	n := mapping(0)
	add(n, "id", str(u.ID))
	addStr(n, "name", u.Name)
	addStr(n, "email", u.Email)
	addStr(n, "time_zone", u.TimeZone)
	if len(u.ContactMethods) > 0 {
		list := sequence(0)
		for _, m := range u.ContactMethods {
			e := mapping(yaml.FlowStyle)
			add(e, "name", str(m.Name))
			add(e, "type", str(m.Type))
			add(e, "address", str(m.Address))
			list.Content = append(list.Content, e)
		}
		add(n, "contact_methods", list)
	}
	if len(u.NotificationRules) > 0 {
		list := sequence(0)
		for _, r := range u.NotificationRules {
			e := mapping(yaml.FlowStyle)
			add(e, "contact_method", str(r.ContactMethod))
			add(e, "delay", str(formatMinutes(r.DelayMinutes)))
			list.Content = append(list.Content, e)
		}
		add(n, "notification_rules", list)
	}
	return n
}

func scheduleNode(s schedule.Schedule) (*yaml.Node, error) {
	n := mapping(0)
	add(n, "name", str(s.Name))
	add(n, "time_zone", str(s.TimeZone))
	loc, err := time.LoadLocation(s.TimeZone)
	if err != nil || s.TimeZone == "" || s.TimeZone == "Local" {
		loc = nil // write RFC 3339
	}
	layers := sequence(0)
	for i, l := range s.Layers {
		ln := mapping(0)
		addStr(ln, "name", l.Name)
		ps := sequence(yaml.FlowStyle)
		for _, p := range l.Participants {
			ps.Content = append(ps.Content, str(p))
		}
		add(ln, "participants", ps)
		addTime(ln, "start", l.Start, loc)
		unit := map[schedule.Unit]string{schedule.Hours: "h", schedule.Days: "d", schedule.Weeks: "w"}[l.Shift.Unit]
		if unit == "" {
			return nil, fmt.Errorf("layers[%d].shift.unit: unknown unit %d", i, int(l.Shift.Unit))
		}
		add(ln, "shift", str(strconv.Itoa(l.Shift.Count)+unit))
		if len(l.Restrictions) > 0 {
			rs, err := restrictions(l.Restrictions)
			if err != nil {
				return nil, fmt.Errorf("layers[%d].%w", i, err)
			}
			add(ln, "restrictions", rs)
		}
		layers.Content = append(layers.Content, ln)
	}
	add(n, "layers", layers)
	if len(s.Overrides) > 0 {
		list := sequence(0)
		for _, o := range s.Overrides {
			e := mapping(yaml.FlowStyle)
			add(e, "id", str(o.ID))
			add(e, "user", str(o.User))
			addTime(e, "start", o.Start, loc)
			addTime(e, "end", o.End, loc)
			list.Content = append(list.Content, e)
		}
		add(n, "overrides", list)
	}
	return n, nil
}

var dayNames = [...]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// restrictions writes a layer's restrictions, grouping consecutive weekly
// ones with the same hours into one entry, so that Parse expands them back
// in the same order.
func restrictions(rs []schedule.Restriction) (*yaml.Node, error) {
	list := sequence(0)
	for i := 0; i < len(rs); {
		r := rs[i]
		e := mapping(yaml.FlowStyle)
		switch r.Kind {
		case schedule.Daily:
			add(e, "daily", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: "true"})
			i++
		case schedule.Weekly:
			days := sequence(yaml.FlowStyle)
			for ; i < len(rs) && rs[i].Kind == schedule.Weekly && rs[i].StartTime == r.StartTime && rs[i].Duration == r.Duration; i++ {
				if rs[i].StartDay < time.Sunday || rs[i].StartDay > time.Saturday {
					return nil, fmt.Errorf("restrictions[%d].start_day: unknown day %d", i, int(rs[i].StartDay))
				}
				days.Content = append(days.Content, str(dayNames[rs[i].StartDay]))
			}
			add(e, "days", days)
		default:
			return nil, fmt.Errorf("restrictions[%d].kind: unknown kind %d", i, int(r.Kind))
		}
		add(e, "from", str(r.StartTime))
		// to when it says the same, else duration (a day or longer, or
		// not whole minutes).
		start, err := time.Parse("15:04", r.StartTime)
		if err == nil && len(r.StartTime) == 5 && r.Duration > 0 && r.Duration < 24*time.Hour && r.Duration%time.Minute == 0 {
			add(e, "to", str(start.Add(r.Duration).Format("15:04")))
		} else {
			add(e, "duration", str(formatDuration(r.Duration)))
		}
		list.Content = append(list.Content, e)
	}
	return list, nil
}

// formatDuration writes d the way people do: 30m, 1h30m, 2h, 45s.
func formatDuration(d time.Duration) string {
	if d%time.Second != 0 || d == time.Duration(-1<<63) {
		return d.String()
	}
	sign := ""
	if d < 0 {
		sign, d = "-", -d
	}
	if d == 0 {
		return "0m"
	}
	h, m, s := d/time.Hour, d%time.Hour/time.Minute, d%time.Minute/time.Second
	var b strings.Builder
	b.WriteString(sign)
	if h > 0 {
		fmt.Fprintf(&b, "%dh", h)
	}
	if m > 0 {
		fmt.Fprintf(&b, "%dm", m)
	}
	if s > 0 {
		fmt.Fprintf(&b, "%ds", s)
	}
	return b.String()
}

// formatMinutes writes a delay in minutes as a duration.
func formatMinutes(m int) string {
	if m >= -1<<31 && m < 1<<31 {
		return formatDuration(time.Duration(m) * time.Minute)
	}
	return strconv.Itoa(m) + "m"
}

func policy(p escalation.Policy) *yaml.Node {
	n := mapping(0)
	add(n, "name", str(p.Name))
	addStr(n, "description", p.Description)
	if p.Repeat != 0 {
		add(n, "repeat", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(p.Repeat)})
	}
	levels := sequence(0)
	for _, l := range p.Levels {
		ln := mapping(0)
		add(ln, "delay", str(formatMinutes(l.DelayMinutes)))
		ts := sequence(0)
		for _, t := range l.Targets {
			tn := mapping(0)
			add(tn, t.Type, str(t.ID))
			ts.Content = append(ts.Content, tn)
		}
		add(ln, "targets", ts)
		levels.Content = append(levels.Content, ln)
	}
	add(n, "levels", levels)
	return n
}

func mapping(style yaml.Style) *yaml.Node {
	return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Style: style}
}

func sequence(style yaml.Style) *yaml.Node {
	return &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Style: style}
}

func str(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
}

func add(m *yaml.Node, key string, val *yaml.Node) {
	m.Content = append(m.Content, str(key), val)
}

// addStr adds an optional string field.
func addStr(m *yaml.Node, key, val string) {
	if val != "" {
		add(m, key, str(val))
	}
}

// addTime adds an optional time: in loc's wall clock when loc is not nil and
// the reading reads back as the same instant (not the second occurrence of
// an hour that repeats), else as RFC 3339 in UTC.
func addTime(m *yaml.Node, key string, t time.Time, loc *time.Location) {
	if t.IsZero() {
		return
	}
	if loc != nil && t.Truncate(time.Minute).Equal(t) {
		s := t.In(loc).Format(localFormat)
		if back, err := parseLocal(s, loc); err == nil && back.Equal(t) {
			add(m, key, str(s))
			return
		}
	}
	add(m, key, str(t.UTC().Format(time.RFC3339Nano)))
}
