package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/firebreak-dev/firebreak/internal/integration"
)

func newIntegrationCmd(stdout io.Writer) *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{
		Use:     "integration",
		Aliases: []string{"integrations"},
		Short:   "Create, list and revoke integration keys (needs config:write)",
		Args:    cobra.ArbitraryArgs,
		RunE:    groupRun,
		Long: `An integration key lets a monitoring system send alerts for one service:
  events-v2     PagerDuty Events API v2 clients: POST /v2/enqueue with the key as routing_key
  alertmanager  Alertmanager webhook: POST /api/v1/integrations/alertmanager,
                http_config.authorization.credentials = the key
  grafana       Grafana webhook: POST /api/v1/integrations/grafana/<id>, HMAC signed
                with the signing secret (optional timestamp header X-Grafana-Alerting-Timestamp)
  generic       generic JSON alerts or CloudEvents: POST /api/v1/integrations/generic,
                Authorization: Bearer <key>
The server keeps only a hash of the key: it is shown once, when it is created.`,
	}
	cf.add(cmd)

	var spec integration.Spec
	create := &cobra.Command{
		Use:   "create <service> --type " + strings.Join(integration.Types(), "|") + " [--name N]",
		Short: "Create an integration key; the key is printed once, as the last line",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			spec.Service = args[0]
			if spec.Type == "" {
				return usageError{fmt.Errorf("integration create needs --type (%s)", strings.Join(integration.Types(), ", "))}
			}
			c, err := cf.client()
			if err != nil {
				return err
			}
			out, err := c.CreateIntegration(cmd.Context(), spec)
			if err != nil {
				return err
			}
			if cf.json {
				return printJSON(stdout, out)
			}
			fmt.Fprintf(stdout, "created %s integration %s for service %s", out.Type, out.ID, out.Service)
			if out.Name != "" {
				fmt.Fprintf(stdout, " (%s)", out.Name)
			}
			fmt.Fprintln(stdout)
			if out.SigningSecret != "" {
				fmt.Fprintf(stdout, "Grafana webhook URL path: /api/v1/integrations/grafana/%s\n", out.ID)
				fmt.Fprintf(stdout, "signing secret (HMAC, shown only now): %s\n", out.SigningSecret)
			}
			fmt.Fprintln(stdout, "the key is shown only now; store it somewhere safe:")
			fmt.Fprintln(stdout, out.Key)
			return nil
		},
	}
	create.Flags().StringVar(&spec.Type, "type", "", "integration type: "+strings.Join(integration.Types(), ", "))
	create.Flags().StringVar(&spec.Name, "name", "", "label recorded on its alerts (e.g. \"prometheus prod\")")

	list := &cobra.Command{
		Use:   "list",
		Short: "List integrations (never their keys), revoked ones included",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			page, err := c.ListIntegrations(cmd.Context())
			if err != nil {
				return err
			}
			if cf.json {
				return printJSON(stdout, page)
			}
			if len(page.Items) == 0 {
				fmt.Fprintln(stdout, "(no integrations)")
				return nil
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSERVICE\tTYPE\tNAME\tCREATED\tSTATUS")
			for _, in := range page.Items {
				status := "active"
				if in.RevokedAt != nil {
					status = "revoked " + in.RevokedAt.Local().Format(time.DateTime)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", in.ID, in.Service, in.Type, dash(in.Name),
					in.CreatedAt.Local().Format(time.DateTime), status)
			}
			return tw.Flush()
		},
	}

	revoke := &cobra.Command{
		Use:   "revoke <id>",
		Short: "Revoke an integration key; it stops working on every server within moments",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			in, err := c.RevokeIntegration(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if cf.json {
				return printJSON(stdout, in)
			}
			fmt.Fprintf(stdout, "revoked %s integration %s of service %s\n", in.Type, in.ID, in.Service)
			return nil
		},
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}
