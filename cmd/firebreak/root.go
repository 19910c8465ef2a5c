package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"

	"github.com/firebreak-dev/firebreak/internal/client"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// usageError marks a mistake in how the command was called.
type usageError struct{ error }

// run executes the CLI and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRoot(stdout, stderr)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	return exitCode(err, stderr)
}

// exitCode is the one mapping from errors to exit codes and messages.
func exitCode(err error, stderr io.Writer) int {
	var ue usageError
	var ae *client.APIError
	switch {
	case errors.As(err, &ue), strings.HasPrefix(err.Error(), "unknown command "):
		fmt.Fprintln(stderr, "error:", err)
		fmt.Fprintln(stderr, "run 'firebreak --help' for usage")
		return exitUsage
	case errors.As(err, &ae):
		fmt.Fprintln(stderr, "error:", ae.Message)
		if f, ok := ae.Details["field"]; ok {
			fmt.Fprintf(stderr, "  field: %v\n", f)
		}
		fmt.Fprintf(stderr, "  (HTTP %d, code %s)\n", ae.Status, ae.Code)
		return exitError
	}
	fmt.Fprintln(stderr, "error:", err)
	return exitError
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "firebreak",
		Short: "Event-driven incident response: alerts in, people paged, every step on the record",
		Long: `firebreak turns alerts into incidents, moves them through their lifecycle and
records every step as a durable event on NATS JetStream.

Run everything in one process:        firebreak dev
Talk to a running server:             firebreak incident list

Client commands read --server/FIREBREAK_SERVER (default http://127.0.0.1:8080)
and --token/FIREBREAK_TOKEN; without a token they use the one 'firebreak dev'
wrote to ./.firebreak/admin.token.

Every flag can also be set as FIREBREAK_<FLAG> in the environment (e.g.
--http-addr as FIREBREAK_HTTP_ADDR) or as <flag>: <value> in the YAML file
named by --config/FIREBREAK_CONFIG. A flag beats the environment, which beats
the file.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return applyConfig(cmd)
		},
	}
	root.PersistentFlags().String("config", "", "YAML configuration file (keys are flag names)")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newDevCmd(stdout, stderr), newServeCmd(stderr), newMigrateCmd(stdout),
		newVersionCmd(stdout), newIncidentCmd(stdout), newAlertCmd(stdout), newTokenCmd(stdout),
		newApplyCmd(stdout), newExportCmd(stdout), newIntegrationCmd(stdout), newCvssCmd(stdout), newAuditCmd(stdout),
		newNotificationsCmd(stdout),
		newTimelineCmd(stdout), newReportCmd(stdout), newPostmortemCmd(stdout),
		newVulnCmd(stdout),
	)
	for _, c := range root.Commands() {
		wrapArgs(c)
	}
	return root
}

// groupRun makes a command group (incident, alert, …) refuse an unknown
// subcommand with a usage error instead of printing help and exiting 0.
func groupRun(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError{fmt.Errorf("unknown command %q for %q", args[0], cmd.CommandPath())}
	}
	return cmd.Help()
}

// flagNames lists every flag of every command below root.
func flagNames(root *cobra.Command) map[string]bool {
	names := map[string]bool{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.Flags().VisitAll(func(f *pflag.Flag) { names[f.Name] = true })
		c.PersistentFlags().VisitAll(func(f *pflag.Flag) { names[f.Name] = true })
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	return names
}

// wrapArgs makes argument-count mistakes usage errors (exit 2).
func wrapArgs(c *cobra.Command) {
	if c.Args != nil {
		check := c.Args
		c.Args = func(cmd *cobra.Command, args []string) error {
			if err := check(cmd, args); err != nil {
				return usageError{err}
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		wrapArgs(sub)
	}
}

// envName is the environment variable of a flag.
func envName(flag string) string {
	return "FIREBREAK_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// applyConfig fills flags not given on the command line from FIREBREAK_*
// variables, then from the YAML file.
func applyConfig(cmd *cobra.Command) error {
	file := map[string]any{}
	path, _ := cmd.Flags().GetString("config")
	if path == "" {
		path = os.Getenv("FIREBREAK_CONFIG")
	}
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return usageError{fmt.Errorf("read config: %w", err)}
		}
		if err := yaml.Unmarshal(b, &file); err != nil {
			return usageError{fmt.Errorf("config %s: %w", path, err)}
		}
		// One file serves every command: a key is an error only if no
		// command has such a flag; others' keys are ignored.
		known := flagNames(cmd.Root())
		for k := range file {
			if !known[k] {
				return usageError{fmt.Errorf("config %s: unknown key %q (keys are flag names)", path, k)}
			}
		}
	}
	var errs []error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Changed || f.Name == "config" || f.Name == "help" {
			return
		}
		v := os.Getenv(envName(f.Name))
		src := envName(f.Name)
		if v == "" { // unset or empty: not given
			fv, inFile := file[f.Name]
			if !inFile {
				return
			}
			v, src = fmt.Sprint(fv), "config key "+f.Name
		}
		if err := f.Value.Set(v); err != nil {
			errs = append(errs, usageError{fmt.Errorf("%s: %w", src, err)})
		}
	})
	return errors.Join(errs...)
}
