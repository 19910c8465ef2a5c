package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/firebreak-dev/firebreak/internal/client"
)

// newIncidentAlertsCmd is `firebreak incident alerts`; cf are the incident
// command's persistent flags (--server, --token, --json).
func newIncidentAlertsCmd(stdout io.Writer, cf *clientFlags) *cobra.Command {
	var o client.AlertOptions
	cmd := &cobra.Command{
		Use:   "alerts <INC-n|id>",
		Short: "List the alerts of an incident (each alert of an Alertmanager or Grafana group by fingerprint)",
		Long: `List the distinct alerts an incident received, first seen first: each alert
of an Alertmanager or Grafana group by its fingerprint, otherwise the
incident's dedup key, with its status (firing or resolved), severity,
summary, how many notifications carried it and when it was first and last
seen. The header counts firing and resolved alerts; an incident keeps at most
a limited number of distinct alerts and counts the receipts of the rest
(overflow), and truncated says how many alerts the sender left out of its
latest notification.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch o.Status {
			case "", "firing", "resolved":
			default:
				return usageError{fmt.Errorf("--status must be firing or resolved, got %q", o.Status)}
			}
			c, err := cf.client()
			if err != nil {
				return err
			}
			page, err := c.IncidentAlerts(cmd.Context(), args[0], o)
			if err != nil {
				return err
			}
			if cf.json {
				return printJSON(stdout, page)
			}
			st := page.Stats
			fmt.Fprintf(stdout, "%s: %d firing, %d resolved", page.Incident, st.Firing, st.Resolved)
			if st.Overflow > 0 {
				fmt.Fprintf(stdout, ", %d receipts over the limit of %d alerts not kept", st.Overflow, st.Limit)
			}
			if st.TruncatedAlerts > 0 {
				fmt.Fprintf(stdout, ", %d alerts truncated by the sender", st.TruncatedAlerts)
			}
			fmt.Fprintln(stdout)
			if len(page.Items) == 0 {
				fmt.Fprintln(stdout, "(no alerts)")
				return nil
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "KEY\tSTATUS\tSEVERITY\tRECEIPTS\tFIRST SEEN\tLAST SEEN\tSUMMARY\tLABELS")
			for _, a := range page.Items {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", a.Key, a.Status, dash(a.Severity), a.Receipts,
					a.FirstSeenAt.Local().Format(time.DateTime), a.LastSeenAt.Local().Format(time.DateTime),
					dash(a.Summary), dash(labelString(a.Labels)))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if page.NextCursor != "" {
				fmt.Fprintf(stdout, "more: --cursor %s\n", page.NextCursor)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&o.Status, "status", "", "only alerts in this status (firing or resolved)")
	cmd.Flags().IntVar(&o.Limit, "limit", 50, "page size (1-200)")
	cmd.Flags().StringVar(&o.Cursor, "cursor", "", "continue after a previous page")
	return cmd
}

// labelString renders labels as k=v pairs, sorted by name.
func labelString(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return strings.Join(parts, ",")
}
