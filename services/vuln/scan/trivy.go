package scan

import (
	"fmt"
	"slices"
	"strings"

	"github.com/firebreak-dev/firebreak/services/vuln/cvss"
)

// The part of Trivy's JSON report (`trivy image -f json`, SchemaVersion 2)
// that findings come from.
type trivyReport struct {
	SchemaVersion int
	ArtifactName  string
	Results       []struct {
		Target          string
		Class           string
		Type            string
		Vulnerabilities []trivyVuln
	}
}

type trivyVuln struct {
	VulnerabilityID  string
	PkgID            string
	PkgName          string
	InstalledVersion string
	FixedVersion     string
	SeveritySource   string
	PrimaryURL       string
	Title            string
	Description      string
	Severity         string
	CVSS             map[string]struct {
		V3Vector  string
		V3Score   float64
		V40Vector string
		V40Score  float64
	}
}

// ParseTrivy reads a Trivy JSON report (SchemaVersion 2). The advisory id
// is VulnerabilityID, the component PkgName; the CVSS vector is the
// severity source's (else NVD's, else the highest scoring one).
func ParseTrivy(b []byte) ([]Finding, error) {
	var r trivyReport
	if err := decode(b, &r); err != nil {
		return nil, err
	}
	if r.SchemaVersion != 2 {
		return nil, malformed("SchemaVersion", "is %d; only Trivy's schema version 2 is supported", r.SchemaVersion)
	}
	var m merger
	for i, res := range r.Results {
		for j, v := range res.Vulnerabilities {
			at := fmt.Sprintf("Results[%d].Vulnerabilities[%d]", i, j)
			f, err := trivyFinding(v, at)
			if err != nil {
				return nil, err
			}
			if res.Target != "" {
				f.Targets = []string{res.Target}
			}
			f.Ecosystem = res.Type
			m.add(f)
		}
	}
	return m.out, nil
}

func trivyFinding(v trivyVuln, at string) (Finding, error) {
	switch {
	case strings.TrimSpace(v.VulnerabilityID) == "":
		return Finding{}, malformed(at+".VulnerabilityID", "is required")
	case strings.TrimSpace(v.PkgName) == "":
		return Finding{}, malformed(at+".PkgName", "is required")
	}
	f := Finding{
		Component: v.PkgName, AdvisoryID: v.VulnerabilityID, Identifiers: []string{v.VulnerabilityID},
		Title: v.Title, Description: v.Description, InstalledVersion: v.InstalledVersion, FixedVersion: v.FixedVersion,
	}
	if f.Title == "" {
		f.Title = v.VulnerabilityID + " in " + v.PkgName
	}
	sev, ok := label(v.Severity)
	if !ok {
		return Finding{}, malformed(at+".Severity", "unknown severity %q", v.Severity)
	}
	// One vendor's vector: the severity source's, else NVD's, else the
	// highest scoring, in a fixed order so a re-import reads the same.
	sources := make([]string, 0, len(v.CVSS))
	for k := range v.CVSS {
		sources = append(sources, k)
	}
	slices.Sort(sources)
	for _, pref := range []string{v.SeveritySource, "nvd"} {
		if c, ok := v.CVSS[pref]; ok && pref != "" && (c.V3Vector != "" || c.V40Vector != "") {
			sources = []string{pref}
			break
		}
	}
	for _, src := range sources {
		c := v.CVSS[src]
		if err := f.score(c.V3Vector, at+".CVSS."+src+".V3Vector"); err != nil {
			return Finding{}, err
		}
		if c.V3Vector == "" {
			if err := f.score(c.V40Vector, at+".CVSS."+src+".V40Vector"); err != nil {
				return Finding{}, err
			}
		}
	}
	if f.Vector == "" {
		f.Severity = sev
	}
	if f.Severity == "" {
		f.Severity = cvss.None
	}
	return f, nil
}
