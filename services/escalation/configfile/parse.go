package configfile

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/firebreak-dev/firebreak/internal/integration"
	"github.com/firebreak-dev/firebreak/services/escalation"
	"github.com/firebreak-dev/firebreak/services/escalation/schedule"
)

// Parse reads a configuration file. It returns every problem it finds as an
// *Error (joined with errors.Join when there are several; see Errors), and
// on success the configuration with the Index of its lines. Times come back
// in UTC. An empty file is the empty configuration.
func Parse(data []byte) (escalation.Config, *Index, error) {
	doc, idx, err := ParseDocument(data)
	return doc.Config, idx, err
}

// Document is a whole configuration file: the paging configuration the
// escalation service keeps, and the integrations (owned by intake, kept in
// the FB_INTEGRATIONS bucket) that `firebreak apply` creates.
type Document struct {
	Config       escalation.Config
	Integrations []integration.Spec
}

// ParseDocument is Parse for the whole file, integrations included.
func ParseDocument(data []byte) (Document, *Index, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return Document{}, nil, syntaxError(err)
	}
	d := &decoder{idx: &Index{lines: map[string]int{}}}
	var out Document
	if len(doc.Content) > 0 {
		out.Config = d.config(doc.Content[0])
		out.Integrations = d.ints
	}
	if len(d.errs) > 0 {
		return Document{}, nil, errors.Join(d.errs...)
	}
	return out, d.idx, nil
}

// syntaxError turns a yaml.v3 error into *Errors with line numbers.
func syntaxError(err error) error {
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	var errs []error
	for _, m := range msgs {
		e := &Error{Msg: strings.TrimPrefix(m, "yaml: ")}
		if sm := yamlLineRE.FindStringSubmatch(m); sm != nil {
			e.Line, _ = strconv.Atoi(sm[1])
			e.Msg = sm[2]
		}
		errs = append(errs, e)
	}
	return errors.Join(errs...)
}

// decoder walks the YAML tree, collecting errors and the lines of paths.
type decoder struct {
	errs []error
	idx  *Index
	ints []integration.Spec
}

func (d *decoder) fail(n *yaml.Node, format string, args ...any) {
	d.errs = append(d.errs, &Error{Line: n.Line, Msg: fmt.Sprintf(format, args...)})
}

func (d *decoder) mark(path string, n *yaml.Node) {
	if _, ok := d.idx.lines[path]; !ok {
		d.idx.lines[path] = n.Line
	}
}

// where names a path in messages.
func where(path string) string {
	if path == "" {
		return "at the top level"
	}
	return "in " + path
}

// field is one key of a mapping with its value.
type field struct {
	key, val *yaml.Node
}

// fields checks that n is a mapping whose keys are all known, none twice,
// and returns its entries by key. It marks path at n.
func (d *decoder) fields(n *yaml.Node, path string, known ...string) map[string]field {
	d.mark(path, n)
	if !d.is(n, yaml.MappingNode, path, "a mapping") {
		return nil
	}
	out := make(map[string]field, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch {
		case k.Kind != yaml.ScalarNode:
			d.fail(k, "%s: keys must be plain words", where(path))
		case k.Value == "<<" && k.Tag == "!!merge":
			d.fail(k, "merge keys (<<) are not supported %s", where(path))
		case !slices.Contains(known, k.Value):
			d.fail(k, "unknown field %q %s", k.Value, where(path))
		default:
			if first, dup := out[k.Value]; dup {
				d.fail(k, "duplicate field %q %s (first on line %d)", k.Value, where(path), first.key.Line)
				continue
			}
			out[k.Value] = field{k, v}
		}
	}
	return out
}

// is checks n's kind, reporting a mismatch. Aliases are refused: they would
// let a small file expand into a huge configuration.
func (d *decoder) is(n *yaml.Node, kind yaml.Kind, path, want string) bool {
	switch {
	case n.Kind == yaml.AliasNode:
		d.fail(n, "%s: aliases (*%s) are not supported", path, n.Value)
		return false
	case n.Kind == yaml.ScalarNode && n.Tag == "!!null" && kind != yaml.ScalarNode:
		return false // "key:" with nothing is the empty list or mapping
	case n.Kind != kind:
		if path == "" {
			path = "the file"
		}
		d.fail(n, "%s: want %s, got %s", path, want, describe(n))
		return false
	}
	return true
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return strconv.Quote(n.Value)
	}
	return "something else"
}

// seq returns the items of a list at path (nil for an absent or null one).
func (d *decoder) seq(f field, path string) []*yaml.Node {
	if f.val == nil {
		return nil
	}
	d.mark(path, f.key)
	if !d.is(f.val, yaml.SequenceNode, path, "a list") {
		return nil
	}
	return f.val.Content
}

// str returns a scalar's text. YAML's own typing is ignored, so that
// name: 2026 or address: yes are the strings they look like.
func (d *decoder) str(f field, path string) string {
	if f.val == nil {
		return ""
	}
	d.mark(path, f.key)
	if !d.is(f.val, yaml.ScalarNode, path, "a string") || f.val.Tag == "!!null" {
		return ""
	}
	return f.val.Value
}

// scalar is str for a value that is not a mapping entry (a list item).
func (d *decoder) scalar(n *yaml.Node, path string) string {
	return d.str(field{n, n}, path)
}

func (d *decoder) integer(f field, path string) int {
	s := d.str(f, path)
	if s == "" {
		return 0
	}
	i, err := strconv.Atoi(s)
	if err != nil {
		d.fail(f.val, "%s: want an integer, got %q", path, s)
	}
	return i
}

// boolean reads true or false; ok is false after an error.
func (d *decoder) boolean(f field, path string) (v, ok bool) {
	s := d.str(f, path)
	switch s {
	case "", "false":
		return false, true
	case "true":
		return true, true
	}
	d.fail(f.val, "%s: want true or false, got %q", path, s)
	return false, false
}

func (d *decoder) duration(f field, path string) time.Duration {
	s := d.str(f, path)
	if s == "" {
		return 0
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		d.fail(f.val, "%s: want a duration like 30m, 1h30m or 45s, got %q", path, s)
	}
	return v
}

// minutes reads a delay, a duration of whole minutes.
func (d *decoder) minutes(f field, path string) int {
	v := d.duration(f, path)
	if v%time.Minute != 0 {
		d.fail(f.val, "%s: want whole minutes, got %q", path, f.val.Value)
	}
	return int(v / time.Minute)
}

// strings reads a list of strings.
func (d *decoder) strings(f field, path string) []string {
	items := d.seq(f, path)
	if len(items) == 0 {
		return nil
	}
	out := make([]string, len(items))
	for i, n := range items {
		out[i] = d.scalar(n, fmt.Sprintf("%s[%d]", path, i))
	}
	return out
}

// localFormat is how times are written in a schedule's zone.
const localFormat = "2006-01-02 15:04"

// time reads a time: RFC 3339, or "YYYY-MM-DD HH:MM" in loc when loc is not
// nil. Times are returned in UTC.
func (d *decoder) time(f field, path string, loc *time.Location) time.Time {
	s := d.str(f, path)
	if s == "" {
		return time.Time{}
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC()
	}
	if loc != nil {
		t, err := parseLocal(s, loc)
		if err == nil {
			return t.UTC()
		}
		if _, perr := time.Parse(localFormat, s); perr == nil {
			d.fail(f.val, "%s: %v", path, err)
			return time.Time{}
		}
		d.fail(f.val, "%s: want a time like 2026-01-05 09:00 (in the schedule's time zone) or 2026-01-05T09:00:00+01:00, got %q", path, s)
	} else {
		d.fail(f.val, "%s: want an RFC 3339 time like 2026-01-10T22:00:00Z, got %q", path, s)
	}
	return time.Time{}
}

// parseLocal reads "YYYY-MM-DD HH:MM" in loc. A time that falls into a
// daylight-saving gap does not exist and is an error; one that exists twice
// means its first occurrence, as in the schedule engine.
func parseLocal(s string, loc *time.Location) (time.Time, error) {
	t, err := time.ParseInLocation(localFormat, s, loc)
	if err != nil {
		return t, err
	}
	if t.Format(localFormat) != s {
		return t, fmt.Errorf("%s does not exist in %s (the clocks skip it)", s, loc)
	}
	for _, back := range []time.Duration{2 * time.Hour, time.Hour, 30 * time.Minute} {
		if e := t.Add(-back); e.Format(localFormat) == s {
			return e, nil
		}
	}
	return t, nil
}

var (
	shiftRE = regexp.MustCompile(`^(-?\d+)([hdw])$`)
	dayRE   = map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday,
		"wed": time.Wednesday, "thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}
)

func (d *decoder) config(n *yaml.Node) escalation.Config {
	var c escalation.Config
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return c // a file of comments only
	}
	fs := d.fields(n, "", "services", "users", "schedules", "policies", "maintenance_windows", "integrations")
	for i, item := range d.seq(fs["services"], "services") {
		c.Services = append(c.Services, d.service(item, fmt.Sprintf("services[%d]", i)))
	}
	for i, item := range d.seq(fs["users"], "users") {
		c.Users = append(c.Users, d.user(item, fmt.Sprintf("users[%d]", i)))
	}
	for i, item := range d.seq(fs["schedules"], "schedules") {
		c.Schedules = append(c.Schedules, d.schedule(item, fmt.Sprintf("schedules[%d]", i)))
	}
	for i, item := range d.seq(fs["policies"], "policies") {
		c.Policies = append(c.Policies, d.policy(item, fmt.Sprintf("policies[%d]", i)))
	}
	for i, item := range d.seq(fs["maintenance_windows"], "maintenance_windows") {
		p := fmt.Sprintf("maintenance_windows[%d]", i)
		fs := d.fields(item, p, "id", "service", "start", "end", "reason")
		c.MaintenanceWindows = append(c.MaintenanceWindows, escalation.MaintenanceWindow{
			ID:      d.str(fs["id"], p+".id"),
			Service: d.str(fs["service"], p+".service"),
			Start:   d.time(fs["start"], p+".start", nil),
			End:     d.time(fs["end"], p+".end", nil),
			Reason:  d.str(fs["reason"], p+".reason"),
		})
	}
	for i, item := range d.seq(fs["integrations"], "integrations") {
		p := fmt.Sprintf("integrations[%d]", i)
		fs := d.fields(item, p, "name", "service", "type")
		d.ints = append(d.ints, integration.Spec{
			Name:    d.str(fs["name"], p+".name"),
			Service: d.str(fs["service"], p+".service"),
			Type:    d.str(fs["type"], p+".type"),
		})
	}
	return c
}

func (d *decoder) service(n *yaml.Node, p string) escalation.ServiceConfig {
	fs := d.fields(n, p, "name", "description", "escalation_policy", "ack_timeout", "severity_map", "alert_grouping")
	s := escalation.ServiceConfig{
		Name:             d.str(fs["name"], p+".name"),
		Description:      d.str(fs["description"], p+".description"),
		EscalationPolicy: d.str(fs["escalation_policy"], p+".escalation_policy"),
		AckTimeout:       d.duration(fs["ack_timeout"], p+".ack_timeout"),
	}
	if f := fs["severity_map"]; f.val != nil {
		mp := p + ".severity_map"
		d.mark(mp, f.key)
		if d.is(f.val, yaml.MappingNode, mp, "a mapping of alert severity to SEV1..SEV4") {
			for i := 0; i+1 < len(f.val.Content); i += 2 {
				k, v := f.val.Content[i], f.val.Content[i+1]
				kp := escalation.MapKeyPath(mp, k.Value)
				if k.Kind != yaml.ScalarNode {
					d.fail(k, "%s: keys must be alert severities", mp)
					continue
				}
				if _, dup := s.SeverityMap[k.Value]; dup {
					d.fail(k, "duplicate field %q in %s", k.Value, mp)
					continue
				}
				if s.SeverityMap == nil {
					s.SeverityMap = map[string]string{}
				}
				s.SeverityMap[k.Value] = d.str(field{k, v}, kp)
			}
		}
	}
	if f := fs["alert_grouping"]; f.val != nil {
		gp := p + ".alert_grouping"
		d.mark(gp, f.key)
		gf := d.fields(f.val, gp, "by", "window")
		s.AlertGrouping = &escalation.AlertGrouping{
			By:     d.strings(gf["by"], gp+".by"),
			Window: d.duration(gf["window"], gp+".window"),
		}
	}
	return s
}

func (d *decoder) user(n *yaml.Node, p string) escalation.User {
	fs := d.fields(n, p, "id", "name", "email", "time_zone", "contact_methods", "notification_rules")
	u := escalation.User{
		ID:       d.str(fs["id"], p+".id"),
		Name:     d.str(fs["name"], p+".name"),
		Email:    d.str(fs["email"], p+".email"),
		TimeZone: d.str(fs["time_zone"], p+".time_zone"),
	}
	for i, item := range d.seq(fs["contact_methods"], p+".contact_methods") {
		mp := fmt.Sprintf("%s.contact_methods[%d]", p, i)
		mf := d.fields(item, mp, "name", "type", "address")
		u.ContactMethods = append(u.ContactMethods, escalation.ContactMethod{
			Name:    d.str(mf["name"], mp+".name"),
			Type:    d.str(mf["type"], mp+".type"),
			Address: d.str(mf["address"], mp+".address"),
		})
	}
	for i, item := range d.seq(fs["notification_rules"], p+".notification_rules") {
		rp := fmt.Sprintf("%s.notification_rules[%d]", p, i)
		rf := d.fields(item, rp, "contact_method", "delay")
		u.NotificationRules = append(u.NotificationRules, escalation.NotificationRule{
			ContactMethod: d.str(rf["contact_method"], rp+".contact_method"),
			DelayMinutes:  d.minutes(rf["delay"], rp+".delay_minutes"),
		})
	}
	return u
}

func (d *decoder) schedule(n *yaml.Node, p string) schedule.Schedule {
	fs := d.fields(n, p, "name", "time_zone", "layers", "overrides")
	s := schedule.Schedule{
		Name:     d.str(fs["name"], p+".name"),
		TimeZone: d.str(fs["time_zone"], p+".time_zone"),
	}
	// Local times need the zone; with a bad one, Validate names the zone
	// and local times are read in UTC meanwhile.
	loc := time.UTC
	if l, err := time.LoadLocation(s.TimeZone); err == nil && s.TimeZone != "" && s.TimeZone != "Local" {
		loc = l
	}
	for i, item := range d.seq(fs["layers"], p+".layers") {
		s.Layers = append(s.Layers, d.layer(item, fmt.Sprintf("%s.layers[%d]", p, i), loc))
	}
	for i, item := range d.seq(fs["overrides"], p+".overrides") {
		op := fmt.Sprintf("%s.overrides[%d]", p, i)
		of := d.fields(item, op, "id", "user", "start", "end")
		s.Overrides = append(s.Overrides, schedule.Override{
			ID:    d.str(of["id"], op+".id"),
			User:  d.str(of["user"], op+".user"),
			Start: d.time(of["start"], op+".start", loc),
			End:   d.time(of["end"], op+".end", loc),
		})
	}
	return s
}

func (d *decoder) layer(n *yaml.Node, p string, loc *time.Location) schedule.Layer {
	fs := d.fields(n, p, "name", "participants", "start", "shift", "restrictions")
	l := schedule.Layer{
		Name:         d.str(fs["name"], p+".name"),
		Participants: d.strings(fs["participants"], p+".participants"),
		Start:        d.time(fs["start"], p+".start", loc),
	}
	if f := fs["shift"]; f.val != nil {
		sp := p + ".shift"
		d.mark(sp+".count", f.key)
		d.mark(sp+".unit", f.key)
		s := d.str(f, sp)
		if m := shiftRE.FindStringSubmatch(s); m != nil {
			var err error
			if l.Shift.Count, err = strconv.Atoi(m[1]); err != nil {
				d.fail(f.val, "%s: count %q is out of range", sp, m[1])
			}
			l.Shift.Unit = map[string]schedule.Unit{"h": schedule.Hours, "d": schedule.Days, "w": schedule.Weeks}[m[2]]
		} else if s != "" {
			d.fail(f.val, "%s: want a count and a unit like 12h, 1d or 2w, got %q", sp, s)
		}
	}
	for i, item := range d.seq(fs["restrictions"], p+".restrictions") {
		l.Restrictions = append(l.Restrictions, d.restriction(item, fmt.Sprintf("%s.restrictions[%d]", p, i), p, len(l.Restrictions))...)
	}
	return l
}

// restriction reads one entry of a layer's restrictions, which stands for
// one Daily restriction or one Weekly restriction per listed day. yp is the
// entry's path for messages; the restrictions it yields are marked in the
// Index as lp.restrictions[next], [next+1] ….
func (d *decoder) restriction(n *yaml.Node, yp, lp string, next int) []schedule.Restriction {
	fs := d.fields(n, yp, "days", "daily", "from", "to", "duration")
	daily, ok := d.boolean(fs["daily"], yp+".daily")
	if !ok {
		return nil
	}
	from := d.str(fs["from"], yp+".from")
	if _, err := time.Parse("15:04", from); fs["from"].val == nil {
		d.fail(n, "%s: from (a time of day HH:MM) is required", yp)
	} else if err != nil || len(from) != 5 {
		d.fail(fs["from"].val, "%s.from: want a time of day HH:MM, got %q", yp, from)
	}
	var dur time.Duration
	durAt := n
	switch to, hasTo, hasDur := fs["to"], fs["to"].val != nil, fs["duration"].val != nil; {
	case hasTo && hasDur:
		d.fail(fs["duration"].key, "%s: give to or duration, not both", yp)
	case hasTo:
		durAt = to.key
		s := d.str(to, yp+".to")
		end, err := time.Parse("15:04", s)
		start, err2 := time.Parse("15:04", from)
		switch {
		case s == "24:00" && err2 == nil:
			dur = 24*time.Hour - time.Duration(start.Hour()*60+start.Minute())*time.Minute
		case err != nil || len(s) != 5:
			d.fail(to.val, "%s.to: want a time of day HH:MM (or 24:00), got %q", yp, s)
		case err2 == nil:
			dur = end.Sub(start)
			if dur == 0 {
				d.fail(to.val, "%s: to equals from; for a whole day write from: \"00:00\", to: \"24:00\" or duration: 24h", yp)
			}
			if dur < 0 {
				dur += 24 * time.Hour // past midnight
			}
		}
	case hasDur:
		durAt = fs["duration"].key
		dur = d.duration(fs["duration"], yp+".duration")
	default:
		d.fail(n, "%s: want to (a time of day) or duration", yp)
	}
	mark := func(i int, dayNode *yaml.Node) {
		rp := fmt.Sprintf("%s.restrictions[%d]", lp, i)
		d.mark(rp, n)
		d.mark(rp+".kind", n)
		if f := fs["from"]; f.key != nil {
			d.mark(rp+".start_time", f.key)
		}
		d.mark(rp+".duration", durAt)
		if dayNode != nil {
			d.mark(rp+".start_day", dayNode)
		}
	}
	days := d.seq(fs["days"], yp+".days")
	switch {
	case daily && fs["days"].val != nil:
		d.fail(fs["days"].key, "%s: give days or daily: true, not both", yp)
		return nil
	case daily:
		mark(next, nil)
		return []schedule.Restriction{{Kind: schedule.Daily, StartTime: from, Duration: dur}}
	case len(days) == 0:
		d.fail(n, "%s: want days: [mon, …] or daily: true", yp)
		return nil
	}
	out := make([]schedule.Restriction, 0, len(days))
	for i, dn := range days {
		name := d.scalar(dn, fmt.Sprintf("%s.days[%d]", yp, i))
		day, ok := dayRE[strings.ToLower(name)]
		if !ok {
			d.fail(dn, "%s.days[%d]: want a day like mon, tue, wed, thu, fri, sat or sun, got %q", yp, i, name)
		}
		mark(next+len(out), dn)
		out = append(out, schedule.Restriction{Kind: schedule.Weekly, StartDay: day, StartTime: from, Duration: dur})
	}
	return out
}

func (d *decoder) policy(n *yaml.Node, p string) escalation.Policy {
	fs := d.fields(n, p, "name", "description", "repeat", "levels")
	pol := escalation.Policy{
		Name:        d.str(fs["name"], p+".name"),
		Description: d.str(fs["description"], p+".description"),
		Repeat:      d.integer(fs["repeat"], p+".repeat"),
	}
	for i, item := range d.seq(fs["levels"], p+".levels") {
		lp := fmt.Sprintf("%s.levels[%d]", p, i)
		lf := d.fields(item, lp, "delay", "targets")
		l := escalation.Level{DelayMinutes: d.minutes(lf["delay"], lp+".delay_minutes")}
		for j, tn := range d.seq(lf["targets"], lp+".targets") {
			tp := fmt.Sprintf("%s.targets[%d]", lp, j)
			tf := d.fields(tn, tp, escalation.TargetUser, escalation.TargetSchedule, escalation.TargetSlackChannel, escalation.TargetSlackUserGroup)
			if len(tf) != 1 {
				// Unknown fields and non-mappings are reported already.
				if tn.Kind == yaml.MappingNode && len(tn.Content)/2 == len(tf) || tn.Tag == "!!null" {
					d.fail(tn, "%s: want exactly one of user, schedule, slack_channel or slack_usergroup", tp)
				}
				continue
			}
			for typ, f := range tf {
				d.mark(tp+".type", f.key)
				l.Targets = append(l.Targets, escalation.Target{Type: typ, ID: d.str(f, tp+".id")})
			}
		}
		pol.Levels = append(pol.Levels, l)
	}
	return pol
}
