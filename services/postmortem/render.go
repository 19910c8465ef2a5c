package postmortem

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/firebreak-dev/firebreak/events"
)

// Durations are the key moments of an incident, measured from its
// trigger; nil when the moment has not come.
type Durations struct {
	ToAcknowledge *time.Duration
	ToContain     *time.Duration
	ToMitigate    *time.Duration
	ToResolve     *time.Duration
}

// DurationsOf computes an incident's key durations.
func DurationsOf(i Incident) Durations {
	since := func(t *time.Time) *time.Duration {
		if t == nil {
			return nil
		}
		d := t.Sub(i.TriggeredAt)
		return &d
	}
	return Durations{since(i.AcknowledgedAt), since(i.ContainedAt), since(i.MitigatedAt), since(i.ResolvedAt)}
}

// FormatDuration renders a duration for people: "4m 10s", "1h 2m", "2d 3h".
func FormatDuration(d time.Duration) string {
	if d < 0 {
		return "-" + FormatDuration(-d)
	}
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm %ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh %dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd %dh", int(d.Hours())/24, int(d.Hours())%24)
}

func fmtDur(d *time.Duration) string {
	if d == nil {
		return "—"
	}
	return FormatDuration(*d)
}

// actorLabel renders who did something: "Alice (user, slack)".
func actorLabel(a events.Actor) string {
	name := a.Name
	if name == "" {
		name = a.ID
	}
	var tags []string
	if a.Kind != "" {
		tags = append(tags, string(a.Kind))
	}
	if a.Channel != "" {
		tags = append(tags, string(a.Channel))
	}
	if len(tags) == 0 {
		return name
	}
	return name + " (" + strings.Join(tags, ", ") + ")"
}

// mdCell makes text safe inside a Markdown table cell.
func mdCell(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	return strings.NewReplacer("|", `\|`, "<", "&lt;", ">", "&gt;").Replace(s)
}

const mdTime = "2006-01-02 15:04:05"

// zoneNote says which zone the times are in: "Europe/Berlin (CET, UTC+01:00)".
func zoneNote(loc *time.Location, at time.Time) string {
	t := at.In(loc)
	name, off := t.Zone()
	sign := "+"
	if off < 0 {
		sign, off = "-", -off
	}
	return fmt.Sprintf("%s (%s, UTC%s%02d:%02d at the trigger)", loc.String(), name, sign, off/3600, off%3600/60)
}

// WriteTimelineMarkdown writes an incident's timeline as Markdown that reads
// as-is in a post-mortem document. level is the heading level of its title
// (2 standalone, 3 embedded in a post-mortem).
func WriteTimelineMarkdown(w io.Writer, inc Incident, es []Entry, loc *time.Location, level int) error {
	var b bytes.Buffer
	h := strings.Repeat("#", level)
	fmt.Fprintf(&b, "%s Timeline of %s: %s\n\n", h, inc.Key(), mdCell(inc.Title))
	fmt.Fprintf(&b, "- **Service:** %s\n- **Severity:** %s\n- **Status:** %s\n", mdCell(inc.Service), mdCell(inc.Severity), mdCell(inc.Status))
	fmt.Fprintf(&b, "- **Triggered:** %s\n- **Alerts:** %d\n- **Times:** %s\n\n", inc.TriggeredAt.In(loc).Format(mdTime), inc.AlertCount, zoneNote(loc, inc.TriggeredAt))
	d := DurationsOf(inc)
	fmt.Fprintf(&b, "%s# Key durations (from the trigger)\n\n", h)
	fmt.Fprintf(&b, "| Time to acknowledge | Time to contain | Time to mitigate | Time to resolve |\n|---|---|---|---|\n")
	fmt.Fprintf(&b, "| %s | %s | %s | %s |\n\n", fmtDur(d.ToAcknowledge), fmtDur(d.ToContain), fmtDur(d.ToMitigate), fmtDur(d.ToResolve))
	fmt.Fprintf(&b, "%s# Events\n\n", h)
	if len(es) == 0 {
		b.WriteString("_No events recorded._\n")
		_, err := w.Write(b.Bytes())
		return err
	}
	b.WriteString("| Time | Event | Who | What |\n|---|---|---|---|\n")
	for _, e := range es {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", e.At.In(loc).Format(mdTime), mdCell(e.Type), mdCell(actorLabel(e.Actor)), mdCell(e.Summary))
		if b.Len() > 64<<10 {
			if _, err := w.Write(b.Bytes()); err != nil {
				return err
			}
			b.Reset()
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}

// CSVHeader is the header row of the CSV timeline.
var CSVHeader = []string{"time", "type", "actor_kind", "actor_id", "actor_name", "channel", "summary", "event_id"}

// WriteTimelineCSV writes a timeline as CSV (RFC 4180), times RFC 3339 in loc.
func WriteTimelineCSV(w io.Writer, es []Entry, loc *time.Location) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	for _, e := range es {
		if err := cw.Write([]string{e.At.In(loc).Format(time.RFC3339Nano), e.Type, string(e.Actor.Kind), e.Actor.ID,
			e.Actor.Name, string(e.Actor.Channel), csvSafe(e.Summary), e.EventID}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// csvSafe defuses spreadsheet formulas in free text (a summary is partly
// written by alert sources and people).
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// sectionTitles are the template's sections in document order.
var sectionTitles = []struct {
	title string
	get   func(*Sections) *string
	hint  string
}{
	{"Summary", func(s *Sections) *string { return &s.Summary }, "What happened, in two or three sentences."},
	{"Impact", func(s *Sections) *string { return &s.Impact }, "Who was affected, how badly and for how long."},
	{"Detection", func(s *Sections) *string { return &s.Detection }, "How we found out: which alert or report, and how fast."},
	{"Response", func(s *Sections) *string { return &s.Response }, "Who responded and what they did (the timeline below has every step)."},
	{"Root cause", func(s *Sections) *string { return &s.RootCause }, "Why it happened; ask why until the answer is a system, not a person."},
	{"Contributing factors", func(s *Sections) *string { return &s.ContributingFactors }, "What made it more likely, bigger or slower to fix."},
	{"What went well", func(s *Sections) *string { return &s.WentWell }, ""},
	{"What went poorly", func(s *Sections) *string { return &s.WentPoorly }, ""},
	{"Where we got lucky", func(s *Sections) *string { return &s.GotLucky }, ""},
}

// Template is the first revision's sections for an incident: facts the
// service knows filled in, prompts elsewhere.
func Template(inc Incident) Sections {
	var s Sections
	for _, st := range sectionTitles {
		if st.hint != "" {
			*st.get(&s) = "_" + st.hint + "_"
		} else {
			*st.get(&s) = "- "
		}
	}
	d := DurationsOf(inc)
	s.Summary = fmt.Sprintf("%s (%s) on %s: %s.\n\n_%s_", inc.Key(), inc.Severity, inc.Service, inc.Title, sectionTitles[0].hint)
	s.Detection = fmt.Sprintf("Triggered at %s UTC with %d alert(s); acknowledged after %s.\n\n_%s_",
		inc.TriggeredAt.UTC().Format(mdTime), inc.AlertCount, fmtDur(d.ToAcknowledge), sectionTitles[2].hint)
	return s
}

// WritePostmortemMarkdown renders a post-mortem document with its action
// items and the incident's timeline embedded.
func WritePostmortemMarkdown(w io.Writer, p Postmortem, inc Incident, items []ActionItem, es []Entry, loc *time.Location) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# %s\n\n", strings.TrimSpace(p.Title))
	fmt.Fprintf(&b, "%s · %s · %s · %s (revision %d)", inc.Key(), inc.Severity, inc.Service, p.State, p.Revision)
	if p.PublishedAt != nil {
		fmt.Fprintf(&b, " · published %s", p.PublishedAt.In(loc).Format(mdTime))
	}
	b.WriteString("\n\n")
	for _, st := range sectionTitles {
		fmt.Fprintf(&b, "## %s\n\n%s\n\n", st.title, strings.TrimSpace(*st.get(&p.Sections)))
	}
	b.WriteString("## Action items\n\n")
	if len(items) == 0 {
		b.WriteString("_None yet._\n\n")
	} else {
		b.WriteString("| Item | Owner | Due | Status | Tracker |\n|---|---|---|---|---|\n")
		for _, a := range items {
			due := a.Due
			if due == "" {
				due = "—"
			}
			tracker := "—"
			if a.TrackerURL != "" {
				tracker = "<" + a.TrackerURL + ">"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", mdCell(a.Title), mdCell(a.Owner), due, a.Status, tracker)
		}
		b.WriteString("\n")
	}
	b.WriteString("## Timeline\n\n")
	if _, err := w.Write(b.Bytes()); err != nil {
		return err
	}
	return WriteTimelineMarkdown(w, inc, es, loc, 3)
}

// seconds renders a duration as JSON seconds (nil stays null).
func seconds(d *time.Duration) *float64 {
	if d == nil {
		return nil
	}
	v, _ := strconv.ParseFloat(strconv.FormatFloat(d.Seconds(), 'f', 3, 64), 64)
	return &v
}
