package escalation

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/mail"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/services/escalation/schedule"
)

// FieldError is one problem Validate found, naming the field by its JSON path
// in the Config (e.g. "policies[1].levels") so an API, or a configuration
// file's Index, can point at it.
type FieldError struct {
	Field   string `json:"field"`
	Problem string `json:"problem"`
}

// Error returns "field: problem".
func (e FieldError) Error() string { return e.Field + ": " + e.Problem }

// Limits Validate enforces. Besides catching unit mistakes (a delay of
// 100000 minutes) they keep minutes × time.Minute far from overflow.
const (
	// MaxAckTimeout bounds ServiceConfig.AckTimeout.
	MaxAckTimeout = 7 * 24 * time.Hour
	// MaxDelayMinutes bounds Level.DelayMinutes and
	// NotificationRule.DelayMinutes (7 days).
	MaxDelayMinutes = 7 * 24 * 60
	// MaxRepeat bounds Policy.Repeat.
	MaxRepeat = 9
)

var (
	// nameRE is the form of names other objects refer to: services,
	// schedules, policies, maintenance windows and contact methods.
	nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$`)
	// userIDRE is the form of user ids, the same as API token users.
	userIDRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)
	// slackUserRE is a Slack user id: no spaces, no @, at most 64 bytes.
	slackUserRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	// slackChannelRE is a Slack channel by name ("#ops") or by id ("C…").
	slackChannelRE = regexp.MustCompile(`^(#[a-z0-9][a-z0-9._-]{0,79}|C[A-Z0-9]{2,})$`)
	// slackUserGroupRE is a Slack user group by handle ("@oncall-web") or by
	// id ("S…").
	slackUserGroupRE = regexp.MustCompile(`^(@[a-z0-9][a-z0-9._-]{0,79}|S[A-Z0-9]{2,})$`)
)

// Alert severities a SeverityMap may map, and the incident severities it may
// map them to.
var (
	alertSeverities    = []string{"critical", "error", "warning", "info"}
	incidentSeverities = []string{"SEV1", "SEV2", "SEV3", "SEV4"}
)

// Validate reports every problem with c, in the order of the Config's
// fields, each naming its field by JSON path. Schedules are checked with
// schedule.Compile, whose field paths get the prefix "schedules[i].".
//
// References run one way only — services → policies → users and schedules,
// schedules → users, notification rules → the same user's contact methods,
// maintenance windows → services — and nothing refers to a policy except a
// service, so a configuration cannot contain a reference cycle and Validate
// needs no cycle check. What it does check is that every reference resolves.
func Validate(c Config) []FieldError {
	v := &validator{}
	services := v.names("services", len(c.Services), func(i int) string { return c.Services[i].Name }, "name", nameRE)
	users := v.names("users", len(c.Users), func(i int) string { return c.Users[i].ID }, "id", userIDRE)
	schedules := v.names("schedules", len(c.Schedules), func(i int) string { return c.Schedules[i].Name }, "name", nameRE)
	policies := v.names("policies", len(c.Policies), func(i int) string { return c.Policies[i].Name }, "name", nameRE)
	v.names("maintenance_windows", len(c.MaintenanceWindows), func(i int) string { return c.MaintenanceWindows[i].ID }, "id", nameRE)

	for i, s := range c.Services {
		v.service(fmt.Sprintf("services[%d]", i), s, policies)
	}
	for i, u := range c.Users {
		v.user(fmt.Sprintf("users[%d]", i), u)
	}
	for i, s := range c.Schedules {
		v.schedule(fmt.Sprintf("schedules[%d]", i), s, users)
	}
	for i, p := range c.Policies {
		v.policy(fmt.Sprintf("policies[%d]", i), p, users, schedules)
	}
	for i, m := range c.MaintenanceWindows {
		p := fmt.Sprintf("maintenance_windows[%d]", i)
		switch {
		case m.Service == "":
			v.bad(p+".service", "required")
		case !services[m.Service]:
			v.bad(p+".service", "unknown service %q", m.Service)
		}
		switch {
		case m.Start.IsZero():
			v.bad(p+".start", "required")
		case m.End.IsZero():
			v.bad(p+".end", "required")
		case !m.End.After(m.Start):
			v.bad(p+".end", "must be after start")
		}
	}
	return v.errs
}

// validator collects FieldErrors.
type validator struct{ errs []FieldError }

func (v *validator) bad(field, format string, args ...any) {
	v.errs = append(v.errs, FieldError{Field: field, Problem: fmt.Sprintf(format, args...)})
}

// names checks that the key of every element of a list is present,
// well-formed and unique, and returns the set of keys.
func (v *validator) names(list string, n int, key func(int) string, field string, re *regexp.Regexp) map[string]bool {
	seen := make(map[string]int, n)
	set := make(map[string]bool, n)
	for i := range n {
		k, p := key(i), fmt.Sprintf("%s[%d].%s", list, i, field)
		first, dup := seen[k]
		switch {
		case k == "":
			v.bad(p, "required")
		case !re.MatchString(k):
			v.bad(p, "%q is not a valid %s (want %s)", k, field, re)
		case dup:
			v.bad(p, "duplicate of %s[%d].%s %q", list, first, field, k)
		default:
			seen[k] = i
		}
		set[k] = true
	}
	return set
}

func (v *validator) service(p string, s ServiceConfig, policies map[string]bool) {
	if s.EscalationPolicy != "" && !policies[s.EscalationPolicy] {
		v.bad(p+".escalation_policy", "unknown policy %q", s.EscalationPolicy)
	}
	switch {
	case s.AckTimeout < 0:
		v.bad(p+".ack_timeout", "must not be negative")
	case s.AckTimeout > MaxAckTimeout:
		v.bad(p+".ack_timeout", "at most %v (7 days)", MaxAckTimeout)
	}
	if g := s.AlertGrouping; g != nil {
		v.grouping(p+".alert_grouping", *g)
	}
	for _, k := range slices.Sorted(maps.Keys(s.SeverityMap)) {
		f := MapKeyPath(p+".severity_map", k)
		if !slices.Contains(alertSeverities, k) {
			v.bad(f, "unknown alert severity %q (want %s)", k, strings.Join(alertSeverities, ", "))
		}
		if val := s.SeverityMap[k]; !slices.Contains(incidentSeverities, val) {
			v.bad(f, "want one of %s, got %q", strings.Join(incidentSeverities, ", "), val)
		}
	}
}

func (v *validator) grouping(p string, g AlertGrouping) {
	switch {
	case len(g.By) == 0:
		v.bad(p+".by", "name at least one field to group by")
	case len(g.By) > events.MaxGroupFields:
		v.bad(p+".by", "at most %d fields", events.MaxGroupFields)
	}
	seen := map[string]bool{}
	for i, f := range g.By {
		fp := fmt.Sprintf("%s.by[%d]", p, i)
		if err := events.ValidGroupField(f); err != nil {
			v.bad(fp, "%v", err)
		} else if seen[f] {
			v.bad(fp, "%q is listed twice", f)
		}
		seen[f] = true
	}
	switch {
	case g.Window < 0:
		v.bad(p+".window", "must not be negative")
	case g.Window > MaxGroupingWindow:
		v.bad(p+".window", "at most %v (7 days)", MaxGroupingWindow)
	}
}

func (v *validator) user(p string, u User) {
	if u.TimeZone != "" {
		v.zone(p+".time_zone", u.TimeZone)
	}
	if u.Email != "" && !isEmail(u.Email) {
		v.bad(p+".email", "%q is not an email address", u.Email)
	}
	methods := v.names(p+".contact_methods", len(u.ContactMethods), func(i int) string { return u.ContactMethods[i].Name }, "name", nameRE)
	for i, m := range u.ContactMethods {
		mp := fmt.Sprintf("%s.contact_methods[%d]", p, i)
		switch m.Type {
		case ContactSlack, ContactEmail, ContactWebhook, ContactTeams:
			if problem := checkAddress(m.Type, m.Address); problem != "" {
				v.bad(mp+".address", "%s", problem)
			}
		case "":
			v.bad(mp+".type", "required (slack, email, webhook or teams)")
		default:
			v.bad(mp+".type", "unknown contact method type %q (want slack, email, webhook or teams)", m.Type)
		}
	}
	type rule struct {
		method string
		delay  int
	}
	rules := make(map[rule]int, len(u.NotificationRules))
	for i, r := range u.NotificationRules {
		rp := fmt.Sprintf("%s.notification_rules[%d]", p, i)
		switch {
		case r.ContactMethod == "":
			v.bad(rp+".contact_method", "required")
		case !methods[r.ContactMethod]:
			v.bad(rp+".contact_method", "unknown contact method %q of user %q", r.ContactMethod, u.ID)
		}
		v.delay(rp+".delay_minutes", r.DelayMinutes, 0)
		if first, dup := rules[rule{r.ContactMethod, r.DelayMinutes}]; dup {
			v.bad(rp, "duplicate of notification_rules[%d]", first)
		} else {
			rules[rule{r.ContactMethod, r.DelayMinutes}] = i
		}
	}
}

// checkAddress returns what is wrong with the address of a contact method
// of a known type, or "".
func checkAddress(typ, addr string) string {
	switch {
	case addr == "":
		return "required"
	case typ == ContactSlack:
		// A Slack user id (U024BE7LH) or the email of the Slack account;
		// which ids exist only Slack knows.
		if strings.Contains(addr, "@") && !isEmail(addr) || !slackUserRE.MatchString(addr) && !isEmail(addr) {
			return fmt.Sprintf("%q is neither a Slack user id (like U024BE7LH) nor an email address", addr)
		}
	case typ == ContactEmail:
		if !isEmail(addr) {
			return fmt.Sprintf("%q is not an email address", addr)
		}
	default: // webhook, teams
		return checkURL(addr)
	}
	return ""
}

// isEmail reports whether s is a bare address like alice@example.com.
func isEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && a.Name == ""
}

// checkURL allows https URLs, and http ones only to this machine (a local
// test receiver): pages carry incident details.
func checkURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return fmt.Sprintf("%q is not an absolute URL", s)
	}
	if u.User != nil {
		return "must not carry credentials in the URL"
	}
	switch u.Scheme {
	case "https":
		return ""
	case "http":
		h := u.Hostname()
		if ip := net.ParseIP(h); h == "localhost" || ip != nil && ip.IsLoopback() {
			return ""
		}
		return fmt.Sprintf("%q: want https (http only to localhost or 127.0.0.1)", s)
	}
	return fmt.Sprintf("%q: want an https URL", s)
}

func (v *validator) zone(field, tz string) {
	if tz == "Local" {
		v.bad(field, "%q is not an IANA zone", tz)
	} else if _, err := time.LoadLocation(tz); err != nil {
		v.bad(field, "unknown time zone %q (want an IANA zone such as \"Europe/Berlin\")", tz)
	}
}

// delay checks a delay in minutes.
func (v *validator) delay(field string, m, min int) {
	switch {
	case m < min && min == 0:
		v.bad(field, "must not be negative")
	case m < min:
		v.bad(field, "at least %d minute", min)
	case m > MaxDelayMinutes:
		v.bad(field, "at most %d minutes (7 days)", MaxDelayMinutes)
	}
}

func (v *validator) schedule(p string, s schedule.Schedule, users map[string]bool) {
	if _, err := schedule.Compile(s); err != nil {
		errs := []error{err}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			errs = j.Unwrap()
		}
		for _, e := range errs {
			var ve *schedule.ValidationError
			if errors.As(e, &ve) {
				v.bad(p+"."+ve.Field, "%s", ve.Problem)
			} else {
				v.bad(p, "%v", e)
			}
		}
	}
	for i, l := range s.Layers {
		lp := fmt.Sprintf("%s.layers[%d]", p, i)
		for j, u := range l.Participants {
			if u != "" && !users[u] {
				v.bad(fmt.Sprintf("%s.participants[%d]", lp, j), "unknown user %q", u)
			}
		}
		v.restrictionOverlaps(lp, l.Restrictions)
	}
	for i, o := range s.Overrides {
		op := fmt.Sprintf("%s.overrides[%d]", p, i)
		if o.User != "" && !users[o.User] {
			v.bad(op+".user", "unknown user %q", o.User)
		}
		// The engine lets a later override cover an earlier one, but in a
		// file that edits overrides as a list an overlap is almost always
		// a copy-paste slip, and which one wins would hang on list order.
		for j, e := range s.Overrides[:i] {
			if o.End.After(o.Start) && e.End.After(e.Start) && o.Start.Before(e.End) && e.Start.Before(o.End) {
				v.bad(op, "overlaps overrides[%d] (%s): a schedule's overrides must not overlap", j, e.ID)
				break
			}
		}
	}
}

// restrictionOverlaps reports restrictions of a layer whose windows overlap
// an earlier one's: the union would be well defined, but a day listed twice
// or a daily window beside a weekly one covering the same hours is a mistake.
// Windows are compared in wall-clock minutes of the week.
func (v *validator) restrictionOverlaps(lp string, rs []schedule.Restriction) {
	const week = 7 * 24 * 60
	type span struct{ start, end int } // minutes of the week; end may exceed week
	spans := func(r schedule.Restriction) []span {
		c, err := time.Parse("15:04", r.StartTime)
		if err != nil || len(r.StartTime) != 5 || r.Duration <= 0 || r.Duration > 7*24*time.Hour {
			return nil // Compile reports it
		}
		start, dur := c.Hour()*60+c.Minute(), int((r.Duration+time.Minute-1)/time.Minute)
		switch r.Kind {
		case schedule.Daily:
			out := make([]span, 7)
			for d := range out {
				out[d] = span{d*24*60 + start, d*24*60 + start + dur}
			}
			return out
		case schedule.Weekly:
			if r.StartDay < time.Sunday || r.StartDay > time.Saturday {
				return nil
			}
			return []span{{int(r.StartDay)*24*60 + start, int(r.StartDay)*24*60 + start + dur}}
		}
		return nil
	}
	overlap := func(a, b span) bool {
		for _, shift := range []int{-week, 0, week} {
			if a.start < b.end+shift && b.start+shift < a.end {
				return true
			}
		}
		return false
	}
	for i := range rs {
		mine := spans(rs[i])
	earlier:
		for j := range rs[:i] {
			for _, a := range mine {
				for _, b := range spans(rs[j]) {
					if overlap(a, b) {
						v.bad(fmt.Sprintf("%s.restrictions[%d]", lp, i), "overlaps restrictions[%d]", j)
						break earlier
					}
				}
			}
		}
	}
}

func (v *validator) policy(p string, pol Policy, users, schedules map[string]bool) {
	if pol.Repeat < 0 || pol.Repeat > MaxRepeat {
		v.bad(p+".repeat", "want 0 to %d, got %d", MaxRepeat, pol.Repeat)
	}
	if len(pol.Levels) == 0 {
		v.bad(p+".levels", "at least one level")
	}
	for i, l := range pol.Levels {
		lp := fmt.Sprintf("%s.levels[%d]", p, i)
		v.delay(lp+".delay_minutes", l.DelayMinutes, 1)
		if len(l.Targets) == 0 {
			v.bad(lp+".targets", "at least one target")
		}
		seen := make(map[Target]int, len(l.Targets))
		for j, t := range l.Targets {
			tp := fmt.Sprintf("%s.targets[%d]", lp, j)
			switch t.Type {
			case TargetUser:
				if t.ID != "" && !users[t.ID] {
					v.bad(tp+".id", "unknown user %q", t.ID)
				}
			case TargetSchedule:
				if t.ID != "" && !schedules[t.ID] {
					v.bad(tp+".id", "unknown schedule %q", t.ID)
				}
			case TargetSlackChannel:
				if t.ID != "" && !slackChannelRE.MatchString(t.ID) {
					v.bad(tp+".id", "%q is not a Slack channel (want a name like \"#ops\" or an id like \"C024BE91L\")", t.ID)
				}
			case TargetSlackUserGroup:
				if t.ID != "" && !slackUserGroupRE.MatchString(t.ID) {
					v.bad(tp+".id", "%q is not a Slack user group (want a handle like \"@oncall-web\" or an id like \"S0614TZR7\")", t.ID)
				}
			case "":
				v.bad(tp+".type", "required (user, schedule, slack_channel or slack_usergroup)")
			default:
				v.bad(tp+".type", "unknown target type %q (want user, schedule, slack_channel or slack_usergroup)", t.Type)
			}
			if t.ID == "" {
				v.bad(tp+".id", "required")
			}
			if first, dup := seen[t]; dup {
				v.bad(tp, "duplicate of targets[%d]", first)
			} else {
				seen[t] = j
			}
		}
	}
}

// MapKeyPath is the path of a map entry: prefix.key when the key is a plain
// word, else prefix["key"] (Go quoting).
func MapKeyPath(prefix, key string) string {
	if plainKeyRE.MatchString(key) {
		return prefix + "." + key
	}
	return prefix + "[" + strconv.Quote(key) + "]"
}

var plainKeyRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)
