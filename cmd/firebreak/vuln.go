package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/firebreak-dev/firebreak/internal/client"
	"github.com/firebreak-dev/firebreak/services/vuln"
	"github.com/firebreak-dev/firebreak/services/vuln/policy"
)

// vulnFlags configure the vuln service in dev and serve.
type vulnFlags struct {
	policyFile, publicURL, securityPolicy, languages string
	contacts                                         []string
	expires                                          string
}

// Help texts of the two flags that dev and serve declare themselves (so
// that the deploy tests, which read flag names from the commands' source,
// see the ones docker-compose.yml sets).
const (
	securityContactHelp = "security.txt Contact URI (mailto:, https://), repeatable; without one /.well-known/security.txt is not served"
	publicURLHelp       = "public base URL of the API: links in Slack messages, pages, the status feed, advisories and security.txt's Canonical"
)

// add declares the vuln flags other than --security-contact and
// --public-url.
func (v *vulnFlags) add(f *pflag.FlagSet) {
	f.StringVar(&v.policyFile, "vuln-policy", "", "remediation policy YAML file (default: the Atlassian Marketplace Security Bug Fix Policy timeframes)")
	f.StringVar(&v.securityPolicy, "security-policy-url", "", "security.txt Policy: URL of the vulnerability disclosure policy")
	f.StringVar(&v.languages, "security-languages", "en", "security.txt Preferred-Languages")
	f.StringVar(&v.expires, "security-expires", "", "security.txt Expires (RFC 3339; default one year ahead)")
}

func (v *vulnFlags) config() (vuln.Config, error) {
	var c vuln.Config
	if v.policyFile != "" {
		fh, err := os.Open(v.policyFile)
		if err != nil {
			return c, usageError{fmt.Errorf("--vuln-policy: %w", err)}
		}
		defer fh.Close()
		p, err := policy.Load(fh)
		if err != nil {
			return c, usageError{fmt.Errorf("--vuln-policy %s: %w", v.policyFile, err)}
		}
		c.Policy = &p
	}
	c.Publication = vuln.Publication{Contact: v.contacts, Policy: v.securityPolicy, PreferredLanguages: v.languages, BaseURL: v.publicURL}
	if v.publicURL != "" {
		c.Publication.Canonical = strings.TrimRight(v.publicURL, "/") + "/.well-known/security.txt"
	}
	if v.expires != "" {
		t, err := time.Parse(time.RFC3339, v.expires)
		if err != nil {
			return c, usageError{fmt.Errorf("--security-expires: %w", err)}
		}
		c.Publication.Expires = t
	}
	return c, nil
}

func newVulnCmd(stdout io.Writer) *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{
		Use:     "vuln",
		Aliases: []string{"vulns", "vulnerability"},
		Short:   "Track security vulnerabilities: create, list, show, transition, import scanner reports, report",
		Args:    cobra.ArbitraryArgs,
		RunE:    groupRun,
		Long: `Vulnerabilities move through identified → acknowledged → triaged →
remediation_planned → fix_in_progress → verifying → released or mitigated →
communicated → closed (or rejected / duplicate, with a reason). Each has a
remediation deadline from its severity and its product's hosting type
(cloud or datacenter); warnings at 50 % and 80 % and a breach at 100 %,
which declares an incident on the product's owning service.

Products come first: firebreak vuln product web --hosting cloud --service checkout
Needs vulns:read to read and vulns:write to change.`,
	}
	cf.add(cmd)

	var (
		n     vuln.NewVuln
		prodP vuln.Product
	)
	product := &cobra.Command{
		Use:   "product <name> --hosting cloud|datacenter --service S",
		Short: "Create or change a product (its hosting type and the service paged on a breach)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			prodP.Name = args[0]
			c, err := cf.client()
			if err != nil {
				return err
			}
			p, err := c.PutProduct(cmd.Context(), prodP)
			if err != nil {
				return err
			}
			if cf.json {
				return printJSON(stdout, p)
			}
			fmt.Fprintf(stdout, "product %s: %s, pages %s\n", p.Name, p.Hosting, p.Service)
			return nil
		},
	}
	product.Flags().Var((*hostingValue)(&prodP.Hosting), "hosting", "cloud or datacenter")
	product.Flags().StringVar(&prodP.Service, "service", "", "technical service whose escalation policy is paged on a breach")

	create := &cobra.Command{
		Use:   "create --product P --title T [--cvss VECTOR | --severity S]",
		Short: "Record a vulnerability",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			v, err := c.CreateVuln(cmd.Context(), n)
			if err != nil {
				return err
			}
			if cf.json {
				return printJSON(stdout, v)
			}
			printVuln(stdout, v)
			return nil
		},
	}
	cfl := create.Flags()
	cfl.StringVar(&n.Product, "product", "", "product (see 'vuln product')")
	cfl.StringVar(&n.Title, "title", "", "title")
	cfl.StringVar(&n.Description, "description", "", "description (private)")
	cfl.StringVar(&n.Component, "component", "", "affected component")
	cfl.StringVar(&n.AffectedVersions, "affected", "", "affected versions")
	cfl.StringVar(&n.FixedVersion, "fixed", "", "fixed version")
	cfl.StringSliceVar(&n.Identifiers, "id", nil, "identifier (CVE, GHSA, internal), repeatable")
	cfl.StringVar(&n.Vector, "cvss", "", "CVSS v3.x or v4.0 vector")
	cfl.StringVar(&n.Severity, "severity", "", "severity without a vector: low, medium, high, critical")
	cfl.StringVar((*string)(&n.Source), "source", "internal", "disclosure, scanner, internal, customer or bug_bounty")
	cfl.StringVar(&n.Assignee, "assignee", "", "assignee")
	cfl.BoolVar(&n.Public, "public", false, "may be published (through an approved notice)")
	cfl.BoolVar(&n.Embargoed, "embargoed", false, "held back from publication")

	var lo client.VulnListOptions
	list := &cobra.Command{
		Use:   "list [--status S] [--severity S] [--product P]",
		Short: "List vulnerabilities with their SLA state",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			l, err := c.ListVulns(cmd.Context(), lo)
			if err != nil {
				return err
			}
			if cf.json {
				return printJSON(stdout, l)
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "KEY\tSTATUS\tSEVERITY\tSLA\tDUE\tPRODUCT\tTITLE")
			for _, v := range l.Vulnerabilities {
				due := "-"
				if v.SLA.State != vuln.SLANone {
					due = v.SLA.DueAt.Format(time.DateOnly)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", v.Key, v.Status, orDash(string(v.Severity)), v.SLA.State, due, v.Product, v.Title)
			}
			if l.Next != "" {
				fmt.Fprintf(tw, "(more: --cursor %s)\n", l.Next)
			}
			return tw.Flush()
		},
	}
	list.Flags().StringVar(&lo.Status, "status", "", "status")
	list.Flags().StringVar(&lo.Severity, "severity", "", "severity")
	list.Flags().StringVar(&lo.Product, "product", "", "product")
	list.Flags().StringVar(&lo.Cursor, "cursor", "", "cursor of the next page")
	list.Flags().IntVar(&lo.Limit, "limit", 0, "page size (default 100)")

	show := &cobra.Command{
		Use:   "show <VULN-n|id>",
		Short: "Show a vulnerability with its SLA clock and history",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			d, err := c.GetVuln(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if cf.json {
				return printJSON(stdout, d)
			}
			printVuln(stdout, d.VulnJSON)
			fmt.Fprintln(stdout, "history:")
			for _, h := range d.History {
				line := fmt.Sprintf("  %s  %-12s %s", h.At.Format(time.RFC3339), h.Kind, h.Actor)
				if h.From != "" || h.To != "" {
					line += fmt.Sprintf("  %s → %s", orDash(h.From), h.To)
				}
				if h.Reason != "" {
					line += "  (" + h.Reason + ")"
				}
				fmt.Fprintln(stdout, line)
			}
			return nil
		},
	}

	var tr vuln.TransitionRequest
	transition := &cobra.Command{
		Use:   "transition <VULN-n|id> <status> [--reason R] [--duplicate-of VULN-m]",
		Short: "Move a vulnerability along its lifecycle",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			tr.To = vuln.Status(args[1])
			c, err := cf.client()
			if err != nil {
				return err
			}
			v, err := c.TransitionVuln(cmd.Context(), args[0], tr)
			if err != nil {
				return err
			}
			if cf.json {
				return printJSON(stdout, v)
			}
			printVuln(stdout, v)
			return nil
		},
	}
	transition.Flags().StringVar(&tr.Reason, "reason", "", "why (required for rejected and duplicate)")
	transition.Flags().StringVar(&tr.DuplicateOf, "duplicate-of", "", "the vulnerability this one duplicates")

	var format, importProduct string
	imp := &cobra.Command{
		Use:   "import --format osv|trivy --product P FILE",
		Short: "Import an OSV-Scanner or Trivy JSON report (one transaction; re-imports update, unchanged findings are left alone)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format == "" || importProduct == "" {
				return usageError{fmt.Errorf("vuln import needs --format (osv or trivy) and --product")}
			}
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			c, err := cf.client()
			if err != nil {
				return err
			}
			res, err := c.ImportScan(cmd.Context(), importProduct, format, f)
			if err != nil {
				return err
			}
			if cf.json {
				return printJSON(stdout, res)
			}
			fmt.Fprintf(stdout, "%d findings: %d created, %d updated, %d unchanged\n", res.Findings, res.Created, res.Updated, res.Unchanged)
			return nil
		},
	}
	imp.Flags().StringVar(&format, "format", "", "osv or trivy")
	imp.Flags().StringVar(&importProduct, "product", "", "the product the report is about")

	var from, to string
	report := &cobra.Command{
		Use:   "report [--from DATE] [--to DATE]",
		Short: "Open vulnerabilities by severity and SLA state, mean time to remediate, breaches in a period",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			r, err := c.VulnReport(cmd.Context(), from, to)
			if err != nil {
				return err
			}
			if cf.json {
				return printJSON(stdout, r)
			}
			printVulnReport(stdout, r)
			return nil
		},
	}
	report.Flags().StringVar(&from, "from", "", "start of the breach period (RFC 3339 or date; default 30 days ago)")
	report.Flags().StringVar(&to, "to", "", "end of the breach period (default now)")

	cmd.AddCommand(product, create, list, show, transition, imp, report)
	return cmd
}

type hostingValue policy.Hosting

func (h *hostingValue) String() string { return string(*h) }
func (h *hostingValue) Type() string   { return "hosting" }
func (h *hostingValue) Set(s string) error {
	v, err := policy.ParseHosting(s)
	if err != nil {
		return err
	}
	*h = hostingValue(v)
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func printVuln(w io.Writer, v vuln.VulnJSON) {
	fmt.Fprintf(w, "%s  %s  [%s]\n", v.Key, v.Title, v.Status)
	fmt.Fprintf(w, "  product:  %s (%s)", v.Product, v.Hosting)
	if v.Component != "" {
		fmt.Fprintf(w, ", component %s", v.Component)
	}
	fmt.Fprintln(w)
	sev := orDash(string(v.Severity))
	if v.Vector != "" {
		sev += fmt.Sprintf(" (CVSS %.1f %s)", v.Score, v.Vector)
	}
	fmt.Fprintf(w, "  severity: %s\n", sev)
	if v.SLA.State != vuln.SLANone {
		fmt.Fprintf(w, "  sla:      %s, due %s (remaining %s)\n", v.SLA.State, v.SLA.DueAt.Format(time.RFC3339), v.SLA.Remaining)
	} else {
		fmt.Fprintln(w, "  sla:      none (no severity yet)")
	}
	if len(v.Identifiers) > 0 {
		fmt.Fprintf(w, "  ids:      %s\n", strings.Join(v.Identifiers, ", "))
	}
	if v.Incident != "" {
		fmt.Fprintf(w, "  incident: %s\n", v.Incident)
	}
}

func printVulnReport(w io.Writer, r vuln.Report) {
	fmt.Fprintf(w, "open vulnerabilities: %d (at %s)\n", r.Total, r.At.Format(time.RFC3339))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	states := []string{vuln.SLAOK, vuln.SLAWarning, vuln.SLABreached, vuln.SLAPaused, vuln.SLANone}
	fmt.Fprintln(tw, "SEVERITY\t"+strings.ToUpper(strings.Join(states, "\t")))
	for _, sev := range []string{"Critical", "High", "Medium", "Low", "None", "Unassessed"} {
		m, ok := r.Open[sev]
		if !ok {
			continue
		}
		row := sev
		for _, s := range states {
			row += fmt.Sprintf("\t%d", m[s])
		}
		fmt.Fprintln(tw, row)
	}
	_ = tw.Flush()
	fmt.Fprintln(w, "mean time to remediate:")
	sevs := make([]string, 0, len(r.MeanTimeToRemediate))
	for s := range r.MeanTimeToRemediate {
		sevs = append(sevs, s)
	}
	sort.Strings(sevs)
	if len(sevs) == 0 {
		fmt.Fprintln(w, "  (nothing remediated yet)")
	}
	for _, s := range sevs {
		fmt.Fprintf(w, "  %-8s %.1f days over %d\n", s, r.MeanTimeToRemediate[s]/24, r.Remediated[s])
	}
	var total int64
	for _, n := range r.Breaches {
		total += n
	}
	fmt.Fprintf(w, "breaches %s – %s: %d", r.From.Format(time.DateOnly), r.To.Format(time.DateOnly), total)
	if total > 0 {
		parts := []string{}
		for _, s := range []string{"Critical", "High", "Medium", "Low"} {
			if r.Breaches[s] > 0 {
				parts = append(parts, fmt.Sprintf("%s %d", s, r.Breaches[s]))
			}
		}
		fmt.Fprintf(w, " (%s)", strings.Join(parts, ", "))
	}
	fmt.Fprintln(w)
}
