package postmortem

import (
	"context"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/firebreak-dev/firebreak/internal/fault"
)

// maxLookback bounds --since: ten years.
const maxLookback = 10 * 365 * 24 * time.Hour

var relDuration = regexp.MustCompile(`^([0-9]{1,6})([wdhm])$`)

// ParseSince reads the start of a report period: a duration back from now
// ("30d", "12h", "2w", "90m", or a Go duration such as "1h30m") or an
// instant (RFC 3339, or a date YYYY-MM-DD meaning its midnight UTC). The
// result is before now and at most ten years back.
func ParseSince(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, fault.Field("since", "is empty; use e.g. 30d, 12h or an RFC 3339 time")
	}
	var back time.Duration
	if m := relDuration.FindStringSubmatch(s); m != nil {
		n, _ := strconv.ParseInt(m[1], 10, 64)
		unit := map[string]time.Duration{"w": 7 * 24 * time.Hour, "d": 24 * time.Hour, "h": time.Hour, "m": time.Minute}[m[2]]
		back = time.Duration(n) * unit
	} else if d, err := time.ParseDuration(s); err == nil && len(s) <= 32 {
		back = d
	} else if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return checkInstant(t, now)
	} else if t, err := time.Parse(dateLayout, s); err == nil {
		return checkInstant(t, now)
	} else {
		return time.Time{}, fault.Field("since", "must be a duration such as 30d, 12h, 2w or 90m, or an RFC 3339 time, got %q", s)
	}
	if back <= 0 || back > maxLookback {
		return time.Time{}, fault.Field("since", "must reach back more than 0 and at most 10 years, got %q", s)
	}
	return now.Add(-back).UTC(), nil
}

func checkInstant(t, now time.Time) (time.Time, error) {
	if !t.Before(now) {
		return time.Time{}, fault.Field("since", "must be in the past")
	}
	if now.Sub(t) > maxLookback {
		return time.Time{}, fault.Field("since", "must be at most 10 years back")
	}
	return t.UTC(), nil
}

// ParseZone reads an IANA time zone name ("Europe/Berlin"); "" is def.
func ParseZone(name string, def *time.Location) (*time.Location, error) {
	if name == "" {
		return def, nil
	}
	if len(name) > 64 {
		return nil, fault.Field("tz", "unknown time zone %q", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil || strings.EqualFold(name, "local") {
		return nil, fault.Field("tz", "unknown time zone %q (use an IANA name such as Europe/Berlin or UTC)", name)
	}
	return loc, nil
}

// Stat summarizes durations in seconds; nil fields when there are none.
type Stat struct {
	Count  int      `json:"count"`
	Mean   *float64 `json:"mean_seconds"`
	Median *float64 `json:"median_seconds"`
	P90    *float64 `json:"p90_seconds"`
}

func statOf(ds []time.Duration) Stat {
	if len(ds) == 0 {
		return Stat{}
	}
	slices.Sort(ds)
	var sum float64
	for _, d := range ds {
		sum += d.Seconds()
	}
	round := func(v float64) *float64 { r := math.Round(v*1000) / 1000; return &r }
	pick := func(p float64) *float64 {
		i := int(math.Ceil(p*float64(len(ds)))) - 1
		return round(ds[max(i, 0)].Seconds())
	}
	return Stat{Count: len(ds), Mean: round(sum / float64(len(ds))), Median: pick(0.5), P90: pick(0.9)}
}

// Group is the response metrics of one service, severity or the whole
// period. MTTA and MTTR are the means of TimeToAcknowledge and
// TimeToResolve.
type Group struct {
	Key               string `json:"key"`
	Incidents         int    `json:"incidents"`
	Resolved          int    `json:"resolved"`
	TimeToAcknowledge Stat   `json:"time_to_acknowledge"`
	TimeToContain     Stat   `json:"time_to_contain"`
	TimeToMitigate    Stat   `json:"time_to_mitigate"`
	TimeToResolve     Stat   `json:"time_to_resolve"`
}

// ResponseReport is the response metrics of the incidents triggered in a
// period.
type ResponseReport struct {
	Since  time.Time `json:"since"`
	Until  time.Time `json:"until"`
	By     string    `json:"by"`
	Total  Group     `json:"total"`
	Groups []Group   `json:"groups"`
}

// ParseBy reads the grouping of a report.
func ParseBy(by string) (string, error) {
	switch by {
	case "", "service":
		return "service", nil
	case "severity":
		return by, nil
	}
	return "", fault.Field("by", "must be service or severity, got %q", by)
}

// Response computes response metrics of incidents triggered in [since,
// until), grouped by service or severity.
func (s *Service) Response(ctx context.Context, since, until time.Time, by string) (ResponseReport, error) {
	by, err := ParseBy(by)
	if err != nil {
		return ResponseReport{}, err
	}
	incs, err := s.store.IncidentsTriggered(ctx, since, until)
	if err != nil {
		return ResponseReport{}, err
	}
	type acc struct {
		n, resolved                     int
		ack, contain, mitigate, resolve []time.Duration
	}
	add := func(a *acc, i Incident) {
		d := DurationsOf(i)
		a.n++
		for _, p := range []struct {
			d   *time.Duration
			dst *[]time.Duration
		}{{d.ToAcknowledge, &a.ack}, {d.ToContain, &a.contain}, {d.ToMitigate, &a.mitigate}, {d.ToResolve, &a.resolve}} {
			if p.d != nil {
				*p.dst = append(*p.dst, *p.d)
			}
		}
		if i.ResolvedAt != nil {
			a.resolved++
		}
	}
	total := &acc{}
	groups := map[string]*acc{}
	for _, i := range incs {
		key := i.Service
		if by == "severity" {
			key = i.Severity
		}
		if groups[key] == nil {
			groups[key] = &acc{}
		}
		add(groups[key], i)
		add(total, i)
	}
	group := func(key string, a *acc) Group {
		return Group{Key: key, Incidents: a.n, Resolved: a.resolved, TimeToAcknowledge: statOf(a.ack),
			TimeToContain: statOf(a.contain), TimeToMitigate: statOf(a.mitigate), TimeToResolve: statOf(a.resolve)}
	}
	r := ResponseReport{Since: since.UTC(), Until: until.UTC(), By: by, Total: group("all", total), Groups: []Group{}}
	for k, a := range groups {
		r.Groups = append(r.Groups, group(k, a))
	}
	sort.Slice(r.Groups, func(i, j int) bool { return r.Groups[i].Key < r.Groups[j].Key })
	return r, nil
}

// Load is one person's on-call load in a period.
type Load struct {
	User      string `json:"user"`
	Pages     int    `json:"pages"`
	Night     int    `json:"night_pages"`
	Incidents int    `json:"incidents"`
}

// OnCallReport is the on-call load per person.
type OnCallReport struct {
	Since time.Time `json:"since"`
	Until time.Time `json:"until"`
	// TimeZone is the zone nights are counted in. No event carries a
	// person's time zone, so every person's night is counted in this one.
	TimeZone string `json:"time_zone"`
	Night    string `json:"night"`
	People   []Load `json:"people"`
}

// OnCall counts the pages per person in [since, until) and how many of
// them came at night (22:00–07:00) in loc.
func (s *Service) OnCall(ctx context.Context, since, until time.Time, loc *time.Location) (OnCallReport, error) {
	if loc == nil {
		loc = s.cfg.TimeZone
	}
	pages, err := s.store.Pages(ctx, since, until)
	if err != nil {
		return OnCallReport{}, err
	}
	byUser := map[string]*Load{}
	incs := map[string]map[string]bool{}
	for _, p := range pages {
		l := byUser[p.User]
		if l == nil {
			l = &Load{User: p.User}
			byUser[p.User], incs[p.User] = l, map[string]bool{}
		}
		l.Pages++
		if IsNight(p.At, loc) {
			l.Night++
		}
		incs[p.User][p.IncidentID] = true
	}
	r := OnCallReport{Since: since.UTC(), Until: until.UTC(), TimeZone: loc.String(),
		Night: strconv.Itoa(NightStart) + ":00-" + strconv.Itoa(NightEnd) + ":00", People: []Load{}}
	for u, l := range byUser {
		l.Incidents = len(incs[u])
		r.People = append(r.People, *l)
	}
	sort.Slice(r.People, func(i, j int) bool {
		if r.People[i].Pages != r.People[j].Pages {
			return r.People[i].Pages > r.People[j].Pages
		}
		return r.People[i].User < r.People[j].User
	})
	return r, nil
}
