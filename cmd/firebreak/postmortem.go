package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/firebreak-dev/firebreak/internal/app"
	"github.com/firebreak-dev/firebreak/services/postmortem"
)

// postmortemFlags adds the post-mortem service's flags to dev and serve.
func postmortemFlags(f *pflag.FlagSet, pm *app.PostmortemConfig) {
	f.StringVar(&pm.TimeZone, "postmortem-time-zone", "UTC", "default IANA time zone of timelines and of nights in on-call load (no event carries a person's own zone)")
	f.DurationVar(&pm.OverdueAfter, "action-item-overdue-after", postmortem.DefaultOverdueAfter, "how long past its due date an open action item is reported (action_item.overdue); negative: never")
	f.DurationVar(&pm.PageOverdueAfter, "postmortem-page-overdue-after", 0, "how long past its due date an open action item pages its owner (a configured user, by their notification rules), once per due date; 0 or negative: never (the default)")
}

func newTimelineCmd(stdout io.Writer) *cobra.Command {
	var (
		cf           clientFlags
		format, zone string
		details      bool
	)
	cmd := &cobra.Command{
		Use:   "timeline INCIDENT",
		Short: "Print an incident's timeline (Markdown, JSON or CSV)",
		Long: `Print the ordered, attributed timeline of an incident (INC-42, 42 or its id):
every alert, page, state change, note and status update, who did it and
through which channel, with the key durations (time to acknowledge, contain,
mitigate, resolve). Markdown reads as-is in a post-mortem document.`,
		Example: "  firebreak timeline INC-42 --format md --tz Europe/Berlin > timeline.md",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := postmortem.ParseFormat(format, "md", "json", "csv"); err != nil {
				return usageError{fmt.Errorf("--format: %w", err)}
			}
			if _, err := postmortem.ParseZone(zone, time.UTC); err != nil {
				return usageError{fmt.Errorf("--tz: %w", err)}
			}
			c, err := cf.client()
			if err != nil {
				return err
			}
			if cf.json {
				format = "json"
			}
			b, err := c.Timeline(cmd.Context(), args[0], format, zone, details)
			if err != nil {
				return err
			}
			_, err = stdout.Write(b)
			return err
		},
	}
	cf.add(cmd)
	cmd.Flags().StringVar(&format, "format", "md", "output format: md, json or csv")
	cmd.Flags().StringVar(&zone, "tz", "", "IANA time zone of the times (default: the server's --postmortem-time-zone)")
	cmd.Flags().BoolVar(&details, "details", false, "JSON: give each entry its event's data")
	return cmd
}

func newReportCmd(stdout io.Writer) *cobra.Command {
	var (
		cf              clientFlags
		since, by, zone string
	)
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Response metrics (MTTA, MTTR, time to contain and mitigate) and on-call load",
		Long: `Report the response metrics of the incidents triggered since --since (a
duration back from now such as 30d, 12h, 2w, or an RFC 3339 time), grouped
by service or severity, and the pages per person, counting those between
22:00 and 07:00 in --tz as night pages. No event carries a person's own time
zone, so every person's night is counted in --tz.`,
		Example: "  firebreak report --since 30d --by severity --tz Europe/Berlin",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := postmortem.ParseSince(since, time.Now()); err != nil {
				return usageError{fmt.Errorf("--since: %w", err)}
			}
			if _, err := postmortem.ParseBy(by); err != nil {
				return usageError{fmt.Errorf("--by: %w", err)}
			}
			if _, err := postmortem.ParseZone(zone, time.UTC); err != nil {
				return usageError{fmt.Errorf("--tz: %w", err)}
			}
			c, err := cf.client()
			if err != nil {
				return err
			}
			rep, err := c.ResponseReport(cmd.Context(), since, by)
			if err != nil {
				return err
			}
			load, err := c.OnCallReport(cmd.Context(), since, zone)
			if err != nil {
				return err
			}
			if cf.json {
				return printJSON(stdout, map[string]any{"response": rep, "oncall": load})
			}
			printReportTables(stdout, rep, load)
			return nil
		},
	}
	cf.add(cmd)
	cmd.Flags().StringVar(&since, "since", "30d", "start of the period: 30d, 12h, 2w, 90m or an RFC 3339 time")
	cmd.Flags().StringVar(&by, "by", "service", "group by service or severity")
	cmd.Flags().StringVar(&zone, "tz", "", "IANA time zone nights are counted in (default: the server's --postmortem-time-zone)")
	return cmd
}

func statCell(s postmortem.Stat) string {
	if s.Count == 0 || s.Mean == nil {
		return "—"
	}
	return fmt.Sprintf("%s (p50 %s)", postmortem.FormatDuration(time.Duration(*s.Mean*float64(time.Second))),
		postmortem.FormatDuration(time.Duration(*s.Median*float64(time.Second))))
}

func printReportTables(w io.Writer, rep postmortem.ResponseReport, load postmortem.OnCallReport) {
	fmt.Fprintf(w, "Incidents triggered %s – %s (UTC), by %s\n\n", rep.Since.Format("2006-01-02 15:04"), rep.Until.Format("2006-01-02 15:04"), rep.By)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.ToUpper(rep.By)+"\tINCIDENTS\tRESOLVED\tMTTA\tTIME TO CONTAIN\tTIME TO MITIGATE\tMTTR")
	for _, g := range append(rep.Groups, rep.Total) {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\t%s\n", g.Key, g.Incidents, g.Resolved, statCell(g.TimeToAcknowledge),
			statCell(g.TimeToContain), statCell(g.TimeToMitigate), statCell(g.TimeToResolve))
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "\nOn-call load (nights %s in %s)\n\n", load.Night, load.TimeZone)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PERSON\tPAGES\tNIGHT PAGES\tINCIDENTS")
	for _, l := range load.People {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\n", l.User, l.Pages, l.Night, l.Incidents)
	}
	_ = tw.Flush()
}

func newPostmortemCmd(stdout io.Writer) *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{
		Use:     "postmortem",
		Aliases: []string{"pm"},
		Short:   "Write post-mortems: create from the template, edit with revisions, review, publish, export",
		Args:    cobra.ArbitraryArgs,
		RunE:    groupRun,
	}
	cf.add(cmd)
	show := func(p postmortem.PostmortemJSON) error {
		if cf.json {
			return printJSON(stdout, p)
		}
		fmt.Fprintf(stdout, "%s  %s  %s  revision %d\n", p.ID, p.IncidentKey, p.State, p.Revision)
		return nil
	}

	var title string
	create := &cobra.Command{
		Use:   "create INCIDENT",
		Short: "Start an incident's post-mortem from the template",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			p, err := c.CreatePostmortem(cmd.Context(), args[0], title)
			if err != nil {
				return err
			}
			return show(p)
		},
	}
	create.Flags().StringVar(&title, "title", "", "title (default: \"Post-mortem: <incident title>\")")

	var format, zone string
	get := &cobra.Command{
		Use:   "show POSTMORTEM|INCIDENT",
		Short: "Show a post-mortem, or export it as Markdown (--format md)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := postmortem.ParseFormat(format, "summary", "md"); err != nil {
				return usageError{fmt.Errorf("--format: %w", err)}
			}
			c, err := cf.client()
			if err != nil {
				return err
			}
			if format == "md" {
				b, err := c.PostmortemMarkdown(cmd.Context(), args[0], zone)
				if err != nil {
					return err
				}
				_, err = stdout.Write(b)
				return err
			}
			p, err := c.GetPostmortem(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return show(p)
		},
	}
	get.Flags().StringVar(&format, "format", "summary", "summary or md")
	get.Flags().StringVar(&zone, "tz", "", "IANA time zone of the embedded timeline")

	var (
		base     int64
		sets     []string
		newTitle string
	)
	edit := &cobra.Command{
		Use:   "edit POSTMORTEM --base-revision N --set SECTION=TEXT|@FILE …",
		Short: "Edit sections of a post-mortem; refused if it changed since --base-revision",
		Long: `Edit a post-mortem. --base-revision is the revision you read (see 'show'); if
anyone saved a newer one meanwhile the edit is refused (HTTP 409) and nothing
is overwritten. Sections: summary, impact, detection, response, root_cause,
contributing_factors, went_well, went_poorly, got_lucky. TEXT starting with @
names a file to read.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			body := postmortem.EditBody{BaseRevision: base}
			if cmd.Flags().Changed("title") {
				body.Title = &newTitle
			}
			fields := map[string]**string{
				"summary": &body.Sections.Summary, "impact": &body.Sections.Impact, "detection": &body.Sections.Detection,
				"response": &body.Sections.Response, "root_cause": &body.Sections.RootCause,
				"contributing_factors": &body.Sections.ContributingFactors, "went_well": &body.Sections.WentWell,
				"went_poorly": &body.Sections.WentPoorly, "got_lucky": &body.Sections.GotLucky,
			}
			for _, s := range sets {
				name, text, ok := strings.Cut(s, "=")
				dst, known := fields[name]
				if !ok || !known {
					return usageError{fmt.Errorf("--set %q: want SECTION=TEXT with a section of the template", s)}
				}
				if path, isFile := strings.CutPrefix(text, "@"); isFile {
					b, err := os.ReadFile(path)
					if err != nil {
						return usageError{fmt.Errorf("--set %s: %w", name, err)}
					}
					text = string(b)
				}
				*dst = &text
			}
			c, err := cf.client()
			if err != nil {
				return err
			}
			p, err := c.EditPostmortem(cmd.Context(), args[0], body)
			if err != nil {
				return err
			}
			return show(p)
		},
	}
	edit.Flags().Int64Var(&base, "base-revision", 0, "the revision this edit is based on (required)")
	edit.Flags().StringArrayVar(&sets, "set", nil, "SECTION=TEXT or SECTION=@FILE (repeatable)")
	edit.Flags().StringVar(&newTitle, "title", "", "new title")

	var stateBase int64
	state := &cobra.Command{
		Use:   "state POSTMORTEM draft|in_review|published --base-revision N",
		Short: "Move a post-mortem to review, back to draft, or publish it (opens the SEV1/SEV2 close gate)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := postmortem.ParseState(args[1]); err != nil {
				return usageError{err}
			}
			if stateBase <= 0 {
				return usageError{errors.New("--base-revision is required")}
			}
			c, err := cf.client()
			if err != nil {
				return err
			}
			p, err := c.SetPostmortemState(cmd.Context(), args[0], stateBase, args[1])
			if err != nil {
				return err
			}
			return show(p)
		},
	}
	state.Flags().Int64Var(&stateBase, "base-revision", 0, "the revision this change is based on (required)")
	cmd.AddCommand(create, get, edit, state)
	return cmd
}
