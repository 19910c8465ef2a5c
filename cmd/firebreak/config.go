package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/firebreak-dev/firebreak/internal/client"
	"github.com/firebreak-dev/firebreak/internal/integration"
	"github.com/firebreak-dev/firebreak/services/escalation"
	"github.com/firebreak-dev/firebreak/services/escalation/configfile"
)

func newApplyCmd(stdout io.Writer) *cobra.Command {
	var (
		cf     clientFlags
		file   string
		dryRun bool
	)
	cmd := &cobra.Command{
		Use:   "apply -f FILE [--dry-run]",
		Short: "Make the paging configuration (services, integrations, users, schedules, policies, maintenance windows) what FILE says",
		Long: `Apply a paging configuration file: services, users with their contact methods
and notification rules, on-call schedules, escalation policies, maintenance
windows and integrations (format: docs/configuration-as-code.md; 'firebreak
export' writes the current one).

The paging configuration becomes exactly the file's: what the file lacks is
deleted. Integrations the file names (by service and name) are created if
they do not exist, and their keys printed once; integrations the file does
not name are left alone (revoke them with 'firebreak integration revoke'). Every problem is reported as FILE:LINE and nothing is applied unless
the whole file is valid. --dry-run shows the changes without making them:
  + created   ~ updated (fields)   - deleted
Applying the same file again changes nothing. -f - reads standard input.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if file == "" {
				return usageError{errors.New("apply needs -f FILE (format: docs/configuration-as-code.md)")}
			}
			name, data, err := readConfigFile(cmd, file)
			if err != nil {
				return err
			}
			stderr := cmd.ErrOrStderr()
			doc, idx, err := configfile.ParseDocument(data)
			if err != nil {
				errs := configfile.Errors(err)
				for _, e := range errs {
					fmt.Fprintf(stderr, "%s: %s\n", at(name, e.Line), e.Msg)
				}
				return notApplied(name, len(errs))
			}
			cfg := doc.Config
			if errs := append(escalation.Validate(cfg), configfile.ValidateIntegrations(doc)...); len(errs) > 0 {
				printFieldErrors(stderr, name, idx, errs)
				return notApplied(name, len(errs))
			}
			c, err := cf.client()
			if err != nil {
				return err
			}
			// Integrations are planned before anything is applied, so a
			// conflict leaves everything as it was.
			var plan configfile.IntegrationPlan
			if len(doc.Integrations) > 0 {
				live, err := c.ListIntegrations(cmd.Context())
				if err != nil {
					return fmt.Errorf("list integrations: %w", err)
				}
				plan = configfile.PlanIntegrations(doc, live.Items)
				if len(plan.Conflicts) > 0 {
					printFieldErrors(stderr, name, idx, plan.Conflicts)
					return notApplied(name, len(plan.Conflicts))
				}
			}
			res, err := c.ApplyConfig(cmd.Context(), cfg, dryRun)
			if errs, ok := client.ConfigErrors(err); ok {
				printFieldErrors(stderr, name, idx, errs)
				return notApplied(name, len(errs))
			}
			if err != nil {
				return err
			}
			var created []integration.Created
			if !dryRun {
				for _, spec := range plan.Create {
					in, err := c.CreateIntegration(cmd.Context(), spec)
					if err != nil {
						return fmt.Errorf("the paging configuration is applied, but creating integration %s/%s failed (run apply again): %w", spec.Service, spec.Name, err)
					}
					created = append(created, in)
				}
			}
			if cf.json {
				return printJSON(stdout, struct {
					client.ApplyResult
					Integrations []integration.Created `json:"integrations,omitempty"`
				}{res, created})
			}
			if len(res.Changes) > 0 || len(plan.Create) == 0 {
				printChanges(stdout, res.Changes)
			}
			for _, spec := range plan.Create {
				fmt.Fprintf(stdout, "+ integration %s/%s (%s)\n", spec.Service, spec.Name, spec.Type)
			}
			n := len(res.Changes) + len(plan.Create)
			switch {
			case !res.Applied:
				fmt.Fprintln(stdout, "(dry run: nothing applied)")
			case n > 0:
				fmt.Fprintf(stdout, "applied %d %s\n", n, plural(n, "change"))
			}
			for _, in := range created {
				fmt.Fprintf(stdout, "key of integration %s/%s (shown once): %s\n", in.Service, in.Name, in.Key)
				if in.SigningSecret != "" {
					fmt.Fprintf(stdout, "signing secret of integration %s/%s (shown once): %s\n", in.Service, in.Name, in.SigningSecret)
				}
			}
			return nil
		},
	}
	cf.add(cmd)
	cmd.Flags().StringVarP(&file, "file", "f", "", "configuration file (YAML; - for standard input)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "show what would change, change nothing")
	return cmd
}

func newExportCmd(stdout io.Writer) *cobra.Command {
	var (
		cf  clientFlags
		out string
	)
	cmd := &cobra.Command{
		Use:   "export [-o FILE]",
		Short: "Write the current paging configuration in the format 'firebreak apply' reads",
		Long: `Write the server's paging configuration — services, users, schedules,
policies, maintenance windows, and the named integrations (never their keys) — as YAML (format:
docs/configuration-as-code.md), to standard output or to FILE. Applying the
result changes nothing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			cfg, err := c.GetConfig(cmd.Context())
			if err != nil {
				return err
			}
			live, err := c.ListIntegrations(cmd.Context())
			if err != nil {
				return fmt.Errorf("list integrations: %w", err)
			}
			if cf.json {
				return printJSON(stdout, cfg)
			}
			b, err := configfile.MarshalDocument(configfile.Document{Config: cfg, Integrations: configfile.LiveIntegrations(live.Items)})
			if err != nil {
				return fmt.Errorf("export: %w", err)
			}
			if out == "" || out == "-" {
				_, err := stdout.Write(b)
				return err
			}
			if err := os.WriteFile(out, b, 0o644); err != nil {
				return fmt.Errorf("export: %w", err)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s\n", out)
			return nil
		},
	}
	cf.add(cmd)
	cmd.Flags().StringVarP(&out, "output", "o", "", "write to FILE instead of standard output")
	return cmd
}

// readConfigFile reads the file apply was given; "-" is standard input.
func readConfigFile(cmd *cobra.Command, file string) (name string, data []byte, err error) {
	if file == "-" {
		data, err = io.ReadAll(cmd.InOrStdin())
		return "<stdin>", data, err
	}
	data, err = os.ReadFile(file)
	return file, data, err
}

// at is "file:line", or the file alone when the line is unknown.
func at(file string, line int) string {
	if line <= 0 {
		return file
	}
	return fmt.Sprintf("%s:%d", file, line)
}

// printFieldErrors prints problems of a parsed file, local or the server's,
// each at the line its field came from.
func printFieldErrors(w io.Writer, file string, idx *configfile.Index, errs []escalation.FieldError) {
	for _, e := range errs {
		fmt.Fprintf(w, "%s: %s\n", at(file, idx.Line(e.Field)), e.Error())
	}
}

// notApplied is the error of a file with problems (exit code 1).
func notApplied(file string, n int) error {
	return fmt.Errorf("%s: %d %s; nothing applied", file, n, plural(n, "problem"))
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// printChanges prints a diff: "+ policy p", "~ service s (fields)", "- user u".
func printChanges(w io.Writer, changes []escalation.Change) {
	if len(changes) == 0 {
		fmt.Fprintln(w, "no changes")
		return
	}
	for _, c := range changes {
		sign := map[string]string{escalation.OpCreate: "+", escalation.OpUpdate: "~", escalation.OpDelete: "-"}[c.Op]
		if sign == "" {
			sign = "?" // an op this CLI does not know yet
		}
		line := fmt.Sprintf("%s %s %s", sign, strings.ReplaceAll(c.Kind, "_", " "), c.Name)
		if len(c.Fields) > 0 {
			line += " (" + strings.Join(c.Fields, ", ") + ")"
		}
		fmt.Fprintln(w, line)
	}
}
