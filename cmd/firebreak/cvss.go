package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/firebreak-dev/firebreak/services/vuln/cvss"
)

// newCvssCmd scores a vector locally. An invalid vector exits 1, not 2:
// the command was called correctly and the data is wrong, as with a bad
// field sent to the API.
func newCvssCmd(stdout io.Writer) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "cvss [--json] <vector>",
		Short: "Score a CVSS v3.0, v3.1 or v4.0 vector and rate its severity",
		Long: `Score a CVSS vector such as CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H
offline. For v3 the score that applies is the environmental score if any
environmental metric is given, else the temporal score if any temporal metric
is given, else the base score. An invalid vector exits 1 naming the bad metric.`,
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			s, err := cvss.Parse(args[0])
			if err != nil {
				return fmt.Errorf("invalid CVSS vector: %w", err)
			}
			if asJSON {
				return printJSON(stdout, s)
			}
			fmt.Fprintf(stdout, "%.1f %s (CVSS v%s)\n", s.Score, s.Severity, s.Version)
			fmt.Fprintf(stdout, "base %.1f", s.BaseScore)
			if s.TemporalScore != nil {
				fmt.Fprintf(stdout, ", temporal %.1f", *s.TemporalScore)
			}
			if s.EnvironmentalScore != nil {
				fmt.Fprintf(stdout, ", environmental %.1f", *s.EnvironmentalScore)
			}
			fmt.Fprintf(stdout, "\n%s\n", s.Vector)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}
