package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/firebreak-dev/firebreak/internal/client"
	"github.com/firebreak-dev/firebreak/services/incident"
	"github.com/firebreak-dev/firebreak/services/intake"
)

// clientFlags are the flags every API command takes.
type clientFlags struct {
	server, token string
	json          bool
}

func (f *clientFlags) add(cmd *cobra.Command) {
	cmd.PersistentFlags().StringVar(&f.server, "server", "http://127.0.0.1:8080", "firebreak API URL")
	cmd.PersistentFlags().StringVar(&f.token, "token", "", "API token (default: ./.firebreak/admin.token written by 'firebreak dev')")
	cmd.PersistentFlags().BoolVar(&f.json, "json", false, "print JSON")
}

func (f *clientFlags) client() (*client.Client, error) {
	tok := f.token
	if tok == "" {
		b, err := os.ReadFile(filepath.Join(".firebreak", "admin.token"))
		if err != nil {
			return nil, usageError{fmt.Errorf("no token: pass --token or set FIREBREAK_TOKEN (or run 'firebreak dev' here first)")}
		}
		tok = strings.TrimSpace(string(b))
	}
	return client.New(f.server, tok, "cli"), nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func newIncidentCmd(stdout io.Writer) *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{
		Use:     "incident",
		Aliases: []string{"incidents", "inc"},
		Short:   "Declare, list, show and run incidents through their lifecycle",
		Args:    cobra.ArbitraryArgs,
		RunE:    groupRun,
	}
	cf.add(cmd)

	var status, service, cursor string
	var limit int
	list := &cobra.Command{
		Use:   "list",
		Short: "List incidents, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			page, err := c.ListIncidents(cmd.Context(), client.ListOptions{Status: status, Service: service, Limit: limit, Cursor: cursor})
			if err != nil {
				return err
			}
			if cf.json {
				return printJSON(stdout, page)
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "INCIDENT\tSTATUS\tSEV\tSERVICE\tALERTS\tOPENED\tTITLE")
			for _, i := range page.Items {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", i.Key, i.Status, i.Severity, i.Service, i.AlertCount,
					i.CreatedAt.Local().Format(time.DateTime), i.Title)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if len(page.Items) == 0 {
				fmt.Fprintln(stdout, "(no incidents)")
			}
			if page.NextCursor != "" {
				fmt.Fprintf(stdout, "more: --cursor %s\n", page.NextCursor)
			}
			return nil
		},
	}
	list.Flags().StringVar(&status, "status", "", "only these statuses, comma-separated (open, triggered, escalated, acknowledged, contained, mitigated, resolved, postmortem, closed)")
	list.Flags().StringVar(&service, "service", "", "only this service")
	list.Flags().IntVar(&limit, "limit", 50, "page size (1-200)")
	list.Flags().StringVar(&cursor, "cursor", "", "continue after a previous page")

	show := &cobra.Command{
		Use:   "show <INC-n|id>",
		Short: "Show one incident with its notes",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			i, err := c.GetIncident(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if cf.json {
				return printJSON(stdout, i)
			}
			printIncident(stdout, i)
			return nil
		},
	}

	// act builds a command that runs one incident action; args maps the
	// positional arguments after the incident reference into the body.
	act := func(use, short, action string, nargs int, args func(b *incident.CommandBody, rest []string), flags func(c *cobra.Command, b *incident.CommandBody)) *cobra.Command {
		var b incident.CommandBody
		c := &cobra.Command{
			Use:   use,
			Short: short,
			Args:  cobra.RangeArgs(1, 1+nargs),
			RunE: func(cmd *cobra.Command, argv []string) error {
				if nargs > 0 && len(argv) == 1 && args != nil {
					return usageError{fmt.Errorf("%s needs %s", action, strings.TrimPrefix(use, strings.Fields(use)[0]+" <INC-n|id> "))}
				}
				if args != nil {
					args(&b, argv[1:])
				}
				cl, err := cf.client()
				if err != nil {
					return err
				}
				i, err := cl.Act(cmd.Context(), argv[0], action, b)
				if err != nil {
					return err
				}
				if cf.json {
					return printJSON(stdout, i)
				}
				fmt.Fprintf(stdout, "%s is %s (version %d)\n", i.Key, i.Status, i.Version)
				return nil
			},
		}
		if nargs > 0 {
			c.Args = cobra.MinimumNArgs(1)
		}
		c.Flags().StringVar(&b.Note, "note", "", "why (recorded with the change)")
		if flags != nil {
			flags(c, &b)
		}
		return c
	}
	join := func(set func(b *incident.CommandBody, v string)) func(b *incident.CommandBody, rest []string) {
		return func(b *incident.CommandBody, rest []string) { set(b, strings.Join(rest, " ")) }
	}
	ack := act("ack <INC-n|id>", "Acknowledge an incident", "acknowledge", 0, nil, nil)
	ack.Aliases = []string{"acknowledge"}
	escalate := act("escalate <INC-n|id>", "Escalate an incident to the next level", "escalate", 0, nil, func(c *cobra.Command, b *incident.CommandBody) {
		c.Flags().IntVar(&b.Level, "level", 0, "escalation level reached (default: the next one)")
	})
	contain := act("contain <INC-n|id> <what was done>...", "Record a containment action (moves an acknowledged incident to contained)", "contain", 1,
		join(func(b *incident.CommandBody, v string) { b.Action = v }), nil)
	mitigate := act("mitigate <INC-n|id> <what was done>...", "Record a mitigation action (moves the incident to mitigated)", "mitigate", 1,
		join(func(b *incident.CommandBody, v string) { b.Action = v }), nil)
	resolve := act("resolve <INC-n|id>", "Resolve an incident", "resolve", 0, nil, nil)
	reopen := act("reopen <INC-n|id>", "Reopen a recently resolved incident", "reopen", 0, nil, nil)
	postmortem := act("postmortem <INC-n|id>", "Move a resolved incident into its post-mortem", "postmortem", 0, nil, nil)
	closeCmd := act("close <INC-n|id>", "Close a resolved incident (SEV1/SEV2 need a published post-mortem)", "close", 0, nil, nil)
	snooze := act("snooze <INC-n|id>", "Hold off re-escalation of an acknowledged incident", "snooze", 0, nil, func(c *cobra.Command, b *incident.CommandBody) {
		c.Flags().IntVar(&b.Minutes, "minutes", 30, "how long, in minutes")
	})
	assign := act("assign <INC-n|id> <user>", "Assign an incident to a user", "assign", 1,
		join(func(b *incident.CommandBody, v string) { b.User = v }), nil)
	severity := act("severity <INC-n|id> <SEV1|SEV2|SEV3|SEV4>", "Change an incident's severity", "severity", 1,
		join(func(b *incident.CommandBody, v string) { b.Severity = strings.ToUpper(v) }), nil)
	merge := act("merge <INC-n|id> <into INC-n|id>", "Merge an incident into another (it resolves; its alerts move)", "merge", 1,
		join(func(b *incident.CommandBody, v string) { b.Into = v }), nil)
	responder := act("add-responder <INC-n|id> <user>", "Add a responder to an incident", "responders", 1,
		join(func(b *incident.CommandBody, v string) { b.User = v }), nil)

	var decl incident.DeclareBody
	declare := &cobra.Command{
		Use:   "declare <title>...",
		Short: "Declare an incident without an alert",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			decl.Title = strings.Join(args, " ")
			decl.Severity = strings.ToUpper(decl.Severity)
			cl, err := cf.client()
			if err != nil {
				return err
			}
			i, err := cl.Declare(cmd.Context(), decl)
			if err != nil {
				return err
			}
			if cf.json {
				return printJSON(stdout, i)
			}
			fmt.Fprintf(stdout, "declared %s (%s, %s)\n", i.Key, i.Severity, i.Service)
			return nil
		},
	}
	declare.Flags().StringVar(&decl.Service, "service", "", "technical service (required)")
	declare.Flags().StringVar(&decl.Severity, "severity", "SEV3", "SEV1, SEV2, SEV3 or SEV4")
	declare.Flags().StringVar(&decl.Summary, "summary", "", "what is going on")

	noteCmd := &cobra.Command{
		Use:   "note <INC-n|id> <text>...",
		Short: "Add a note to an incident",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := cf.client()
			if err != nil {
				return err
			}
			i, err := cl.AddNote(cmd.Context(), args[0], strings.Join(args[1:], " "))
			if err != nil {
				return err
			}
			if cf.json {
				return printJSON(stdout, i)
			}
			fmt.Fprintf(stdout, "note added to %s\n", i.Key)
			return nil
		},
	}
	cmd.AddCommand(list, show, declare, ack, escalate, contain, mitigate, resolve, reopen, postmortem, closeCmd,
		snooze, assign, severity, merge, responder, noteCmd)
	cmd.AddCommand(newIncidentAlertsCmd(stdout, &cf))
	return cmd
}

func printIncident(w io.Writer, i incident.IncidentJSON) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s\t%s\n", k, v) }
	ts := func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return t.Local().Format(time.DateTime)
	}
	row("incident", i.Key+"  "+i.Title)
	row("status", string(i.Status))
	row("severity", i.Severity)
	row("service", i.Service)
	row("dedup key", i.DedupKey)
	row("alerts", fmt.Sprintf("%d (last %s)", i.AlertCount, i.LastAlertAt.Local().Format(time.DateTime)))
	row("opened", ts(&i.CreatedAt))
	if i.AcknowledgedAt != nil {
		row("acknowledged", ts(i.AcknowledgedAt)+" by "+i.AcknowledgedBy)
	}
	if i.ResolvedAt != nil {
		row("resolved", ts(i.ResolvedAt)+" by "+i.ResolvedBy)
	}
	row("id", fmt.Sprintf("%s (version %d)", i.ID, i.Version))
	_ = tw.Flush()
	if i.Assignee != "" {
		fmt.Fprintf(w, "assignee: %s\n", i.Assignee)
	}
	if len(i.Responders) > 0 {
		var names []string
		for _, r := range i.Responders {
			names = append(names, r.User)
		}
		fmt.Fprintf(w, "responders: %s\n", strings.Join(names, ", "))
	}
	if len(i.Actions) > 0 {
		fmt.Fprintln(w, "actions:")
		for _, a := range i.Actions {
			fmt.Fprintf(w, "  %s  %s by %s: %s\n", a.CreatedAt.Local().Format(time.DateTime), a.Kind, a.Actor.ID, a.Text)
		}
	}
	if len(i.Notes) > 0 {
		fmt.Fprintln(w, "notes:")
		for _, n := range i.Notes {
			fmt.Fprintf(w, "  %s  %s: %s\n", n.CreatedAt.Local().Format(time.DateTime), n.Author.ID, n.Text)
		}
	}
}

func newAlertCmd(stdout io.Writer) *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{Use: "alert", Short: "Send alerts (the generic JSON integration)", Args: cobra.ArbitraryArgs, RunE: groupRun}
	cf.add(cmd)
	var a intake.Alert
	var details string
	send := &cobra.Command{
		Use:   "send",
		Short: "Send one alert to POST /api/v1/alerts",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if details != "" {
				a.Details = json.RawMessage(details)
			}
			c, err := cf.client()
			if err != nil {
				return err
			}
			out, err := c.SendAlert(cmd.Context(), a)
			if err != nil {
				return err
			}
			if cf.json {
				return printJSON(stdout, out)
			}
			fmt.Fprintf(stdout, "accepted (dedup_key %s)\n", out.DedupKey)
			return nil
		},
	}
	f := send.Flags()
	f.StringVar(&a.Service, "service", "", "technical service (required)")
	f.StringVar(&a.Summary, "summary", "", "what is wrong (required to trigger)")
	f.StringVar(&a.Severity, "severity", "", "critical, error, warning or info (required to trigger)")
	f.StringVar(&a.DedupKey, "dedup-key", "", "de-duplication key (generated for a trigger without one)")
	f.StringVar(&a.Source, "source", "", "host or component the alert is about")
	f.StringVar(&a.EventAction, "action", "trigger", "trigger, acknowledge or resolve")
	f.StringVar(&details, "details", "", "JSON object with more details")
	cmd.AddCommand(send)
	return cmd
}
