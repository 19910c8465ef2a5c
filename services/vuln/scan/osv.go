package scan

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/firebreak-dev/firebreak/services/vuln/cvss"
)

// The part of OSV-Scanner's JSON output (`osv-scanner --format json`)
// that findings come from. Each vulnerability is an OSV record; groups
// join the records that are one vulnerability under several ids (a GO-,
// a GHSA- and a CVE- id, say).
type osvOutput struct {
	Results []struct {
		Source struct {
			Path string `json:"path"`
			Type string `json:"type"`
		} `json:"source"`
		Packages []struct {
			Package struct {
				Name      string `json:"name"`
				Version   string `json:"version"`
				Ecosystem string `json:"ecosystem"`
			} `json:"package"`
			Vulnerabilities []osvRecord `json:"vulnerabilities"`
			Groups          []struct {
				IDs         []string `json:"ids"`
				Aliases     []string `json:"aliases"`
				MaxSeverity string   `json:"max_severity"`
			} `json:"groups"`
		} `json:"packages"`
	} `json:"results"`
}

type osvRecord struct {
	ID       string   `json:"id"`
	Summary  string   `json:"summary"`
	Details  string   `json:"details"`
	Aliases  []string `json:"aliases"`
	Severity []struct {
		Type  string `json:"type"`
		Score string `json:"score"`
	} `json:"severity"`
	Affected []struct {
		Package struct {
			Name      string `json:"name"`
			Ecosystem string `json:"ecosystem"`
		} `json:"package"`
		Ranges []struct {
			Events []map[string]string `json:"events"`
		} `json:"ranges"`
	} `json:"affected"`
	DatabaseSpecific struct {
		Severity string `json:"severity"`
	} `json:"database_specific"`
}

// ParseOSV reads OSV-Scanner JSON output. A group of records is one
// finding per package whose advisory id is the group's first id; without
// groups each record is its own finding. The severity is the highest CVSS
// v3/v4 vector's, else the group's max_severity score, else the
// database's label.
func ParseOSV(b []byte) ([]Finding, error) {
	var o osvOutput
	if err := decode(b, &o); err != nil {
		return nil, err
	}
	var m merger
	for i, res := range o.Results {
		for j, p := range res.Packages {
			at := fmt.Sprintf("results[%d].packages[%d]", i, j)
			if strings.TrimSpace(p.Package.Name) == "" {
				return nil, malformed(at+".package.name", "is required")
			}
			byID := map[string]int{}
			for k, v := range p.Vulnerabilities {
				if strings.TrimSpace(v.ID) == "" {
					return nil, malformed(fmt.Sprintf("%s.vulnerabilities[%d].id", at, k), "is required")
				}
				byID[v.ID] = k
			}
			grouped := map[string]bool{}
			type group struct {
				ids, aliases []string
				max          string
				at           string
			}
			var groups []group
			for k, g := range p.Groups {
				if len(g.IDs) == 0 {
					return nil, malformed(fmt.Sprintf("%s.groups[%d].ids", at, k), "is empty")
				}
				groups = append(groups, group{g.IDs, g.Aliases, g.MaxSeverity, fmt.Sprintf("%s.groups[%d]", at, k)})
				for _, id := range g.IDs {
					grouped[id] = true
				}
			}
			for _, v := range p.Vulnerabilities {
				if !grouped[v.ID] {
					groups = append(groups, group{ids: []string{v.ID}, at: at})
				}
			}
			for _, g := range groups {
				f := Finding{Component: p.Package.Name, Ecosystem: p.Package.Ecosystem, AdvisoryID: g.ids[0],
					InstalledVersion: p.Package.Version}
				if res.Source.Path != "" {
					f.Targets = []string{res.Source.Path}
				}
				lbl := cvss.Severity("")
				for _, id := range g.ids {
					f.Identifiers = addID(f.Identifiers, id)
					k, ok := byID[id]
					if !ok {
						continue
					}
					v := p.Vulnerabilities[k]
					vat := fmt.Sprintf("%s.vulnerabilities[%d]", at, k)
					for _, a := range v.Aliases {
						f.Identifiers = addID(f.Identifiers, a)
					}
					if f.Title == "" {
						f.Title = v.Summary
					}
					if f.Description == "" {
						f.Description = v.Details
					}
					for s, sv := range v.Severity {
						switch sv.Type {
						case "CVSS_V3", "CVSS_V4":
							if err := f.score(sv.Score, fmt.Sprintf("%s.severity[%d].score", vat, s)); err != nil {
								return nil, err
							}
						}
					}
					if f.FixedVersion == "" {
						f.FixedVersion = osvFixed(v, p.Package.Name)
					}
					if v.DatabaseSpecific.Severity != "" {
						l, ok := label(v.DatabaseSpecific.Severity)
						if !ok {
							return nil, malformed(vat+".database_specific.severity", "unknown severity %q", v.DatabaseSpecific.Severity)
						}
						if lbl == "" || rank(l) > rank(lbl) {
							lbl = l
						}
					}
				}
				for _, a := range g.aliases {
					f.Identifiers = addID(f.Identifiers, a)
				}
				if f.Vector == "" && g.max != "" {
					sc, err := strconv.ParseFloat(g.max, 64)
					if err != nil || sc < 0 || sc > 10 {
						return nil, malformed(g.at+".max_severity", "%q is not a score from 0 to 10", g.max)
					}
					f.Score, f.Severity = sc, cvss.SeverityOf(sc)
				}
				if f.Severity == "" {
					f.Severity = lbl
				}
				if f.Severity == "" {
					f.Severity = cvss.None
				}
				if f.Title == "" {
					f.Title = f.AdvisoryID + " in " + f.Component
				}
				m.add(f)
			}
		}
	}
	return m.out, nil
}

func rank(s cvss.Severity) int { return slices.Index(cvss.Severities(), s) }

// osvFixed returns the first "fixed" event of the ranges affecting pkg.
func osvFixed(v osvRecord, pkg string) string {
	for _, a := range v.Affected {
		if a.Package.Name != "" && a.Package.Name != pkg {
			continue
		}
		for _, r := range a.Ranges {
			for _, e := range r.Events {
				if f := e["fixed"]; f != "" {
					return f
				}
			}
		}
	}
	return ""
}
