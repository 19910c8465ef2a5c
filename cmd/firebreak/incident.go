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
		Short:   "List, show, acknowledge, resolve and annotate incidents",
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
	list.Flags().StringVar(&status, "status", "", "only these statuses, comma-separated (triggered,acknowledged,resolved)")
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

	var note string
	action := func(use, short string, do func(*client.Client, *cobra.Command, string, string) (incident.IncidentJSON, error)) *cobra.Command {
		c := &cobra.Command{
			Use:   use + " <INC-n|id>",
			Short: short,
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				cl, err := cf.client()
				if err != nil {
					return err
				}
				i, err := do(cl, cmd, args[0], note)
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
		c.Flags().StringVar(&note, "note", "", "why (recorded with the change)")
		return c
	}
	ack := action("ack", "Acknowledge an incident", func(c *client.Client, cmd *cobra.Command, ref, note string) (incident.IncidentJSON, error) {
		return c.Acknowledge(cmd.Context(), ref, note)
	})
	ack.Aliases = []string{"acknowledge"}
	resolve := action("resolve", "Resolve an incident", func(c *client.Client, cmd *cobra.Command, ref, note string) (incident.IncidentJSON, error) {
		return c.Resolve(cmd.Context(), ref, note)
	})
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
	cmd.AddCommand(list, show, ack, resolve, noteCmd)
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
	if len(i.Notes) > 0 {
		fmt.Fprintln(w, "notes:")
		for _, n := range i.Notes {
			fmt.Fprintf(w, "  %s  %s: %s\n", n.CreatedAt.Local().Format(time.DateTime), n.Author.ID, n.Text)
		}
	}
}

func newAlertCmd(stdout io.Writer) *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{Use: "alert", Short: "Send alerts (the generic JSON integration)"}
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
