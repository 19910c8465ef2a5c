package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/firebreak-dev/firebreak/internal/token"
)

func newTokenCmd(stdout io.Writer) *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{
		Use:     "token",
		Aliases: []string{"tokens"},
		Short:   "Create, list and revoke scoped API tokens (needs an admin token)",
		Args:    cobra.ArbitraryArgs,
		RunE:    groupRun,
		Long: `Scoped API tokens let a person or an integration use the API with only the
scopes it needs: ` + strings.Join(token.Scopes(), ", ") + `
(admin implies every other scope). The server keeps only a hash: a token is
shown once, when it is created.`,
	}
	cf.add(cmd)

	var spec token.Spec
	create := &cobra.Command{
		Use:   "create --user USER --scopes SCOPE[,SCOPE...]",
		Short: "Create a token; its secret is printed once, as the last line",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if spec.User == "" || len(spec.Scopes) == 0 {
				return usageError{fmt.Errorf("token create needs --user and --scopes (scopes: %s)", strings.Join(token.Scopes(), ", "))}
			}
			c, err := cf.client()
			if err != nil {
				return err
			}
			out, err := c.CreateToken(cmd.Context(), spec)
			if err != nil {
				return err
			}
			if cf.json {
				return printJSON(stdout, out)
			}
			who := out.User
			if out.Name != "" {
				who += " (" + out.Name + ")"
			}
			fmt.Fprintf(stdout, "created token %s for %s %s\n", out.ID, out.Kind, who)
			fmt.Fprintf(stdout, "scopes: %s\n", strings.Join(out.Scopes, ", "))
			fmt.Fprintln(stdout, "the token is shown only now; store it somewhere safe:")
			fmt.Fprintln(stdout, out.Secret)
			return nil
		},
	}
	create.Flags().StringVar(&spec.User, "user", "", "user or integration the token acts as (a-z, 0-9, '.', '_', '-')")
	create.Flags().StringSliceVar(&spec.Scopes, "scopes", nil, "comma-separated scopes: "+strings.Join(token.Scopes(), ", "))
	create.Flags().StringVar(&spec.Name, "name", "", "label, shown as the actor's name (e.g. \"grafana on prod\")")
	create.Flags().BoolVar(&spec.Integration, "integration", false, "the token is for an integration, not a person")

	list := &cobra.Command{
		Use:   "list",
		Short: "List tokens (never their secrets), revoked ones included",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			page, err := c.ListTokens(cmd.Context())
			if err != nil {
				return err
			}
			if cf.json {
				return printJSON(stdout, page)
			}
			if len(page.Items) == 0 {
				fmt.Fprintln(stdout, "(no tokens)")
				return nil
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tUSER\tKIND\tNAME\tSCOPES\tCREATED\tLAST USED\tSTATUS")
			for _, t := range page.Items {
				status := "active"
				if t.RevokedAt != nil {
					status = "revoked " + t.RevokedAt.Local().Format(time.DateTime)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.User, t.Kind, dash(t.Name),
					strings.Join(t.Scopes, ","), t.CreatedAt.Local().Format(time.DateTime), when(t.LastUsedAt), status)
			}
			return tw.Flush()
		},
	}

	revoke := &cobra.Command{
		Use:   "revoke <id>",
		Short: "Revoke a token; it stops working on every server within moments",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			t, err := c.RevokeToken(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if cf.json {
				return printJSON(stdout, t)
			}
			fmt.Fprintf(stdout, "revoked token %s of %s\n", t.ID, t.User)
			return nil
		},
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func when(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return t.Local().Format(time.DateTime)
}
