package scan_test

import (
	"errors"
	"os"
	"slices"
	"testing"

	"github.com/firebreak-dev/firebreak/internal/fault"
	"github.com/firebreak-dev/firebreak/services/vuln/cvss"
	"github.com/firebreak-dev/firebreak/services/vuln/scan"
)

func read(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestTrivy(t *testing.T) {
	t.Parallel()
	fs, err := scan.ParseTrivy(read(t, "trivy.json"))
	if err != nil {
		t.Fatal(err)
	}
	// x/net appears in two targets: one finding.
	if len(fs) != 4 {
		t.Fatalf("got %d findings, want 4: %+v", len(fs), fs)
	}
	ssl := fs[0]
	if ssl.Component != "libssl3" || ssl.AdvisoryID != "CVE-2024-2511" || ssl.FixedVersion != "3.0.13-1~deb12u1" ||
		ssl.InstalledVersion != "3.0.11-1~deb12u2" || ssl.Severity != cvss.High || ssl.Score != 7.5 ||
		ssl.Vector != "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H" {
		t.Errorf("libssl3 = %+v (the severity source's vector, nvd, must win over redhat's)", ssl)
	}
	if fs[1].Severity != cvss.Critical || fs[1].Score != 9.8 || fs[1].FixedVersion != "" {
		t.Errorf("zlib = %+v", fs[1])
	}
	if fs[2].Severity != cvss.Low || fs[2].Vector != "" || fs[2].Score != 0 {
		t.Errorf("apt without CVSS takes the label: %+v", fs[2])
	}
	if net := fs[3]; net.Component != "golang.org/x/net" || !slices.Equal(net.Targets, []string{"app/web", "app/worker"}) {
		t.Errorf("x/net = %+v", net)
	}
}

func TestOSV(t *testing.T) {
	t.Parallel()
	fs, err := scan.ParseOSV(read(t, "osv.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 3 {
		t.Fatalf("got %d findings, want 3 (a group is one finding): %+v", len(fs), fs)
	}
	net := fs[0]
	if net.AdvisoryID != "GHSA-4374-p667-p6c8" || net.FixedVersion != "0.17.0" || net.Severity != cvss.High || net.Score != 7.5 {
		t.Errorf("x/net = %+v", net)
	}
	for _, id := range []string{"GHSA-4374-p667-p6c8", "GO-2023-2102", "CVE-2023-39325"} {
		if !slices.Contains(net.Identifiers, id) {
			t.Errorf("x/net identifiers %v lack %s", net.Identifiers, id)
		}
	}
	if fs[2].Component != "semver" || fs[2].Severity != cvss.Medium || fs[2].Score != 5.3 || fs[2].FixedVersion != "7.5.2" {
		t.Errorf("semver = %+v", fs[2])
	}
}

func TestMalformed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		f     scan.Format
		in    string
		field string
	}{
		{"trivy empty", scan.Trivy, ``, ""},
		{"trivy syntax", scan.Trivy, `{"SchemaVersion": 2, "Results": [`, ""},
		{"trivy old array format", scan.Trivy, `[{"Target":"x"}]`, "(document)"},
		{"trivy version", scan.Trivy, `{"SchemaVersion": 1}`, "SchemaVersion"},
		{"trivy no pkg", scan.Trivy, `{"SchemaVersion":2,"Results":[{"Vulnerabilities":[{"VulnerabilityID":"CVE-1"}]}]}`, "Results[0].Vulnerabilities[0].PkgName"},
		{"trivy no id", scan.Trivy, `{"SchemaVersion":2,"Results":[{},{"Vulnerabilities":[{"PkgName":"a"}]}]}`, "Results[1].Vulnerabilities[0].VulnerabilityID"},
		{"trivy severity", scan.Trivy, `{"SchemaVersion":2,"Results":[{"Vulnerabilities":[{"VulnerabilityID":"CVE-1","PkgName":"a","Severity":"SEVERE"}]}]}`, "Results[0].Vulnerabilities[0].Severity"},
		{"trivy vector", scan.Trivy, `{"SchemaVersion":2,"Results":[{"Vulnerabilities":[{"VulnerabilityID":"CVE-1","PkgName":"a","CVSS":{"nvd":{"V3Vector":"CVSS:3.1/AV:Q"}}}]}]}`, "Results[0].Vulnerabilities[0].CVSS.nvd.V3Vector"},
		{"trivy type", scan.Trivy, `{"SchemaVersion":"2"}`, "SchemaVersion"},
		{"trivy trailing", scan.Trivy, `{"SchemaVersion":2} {}`, ""},
		{"osv no name", scan.OSV, `{"results":[{"packages":[{"package":{}}]}]}`, "results[0].packages[0].package.name"},
		{"osv no id", scan.OSV, `{"results":[{"packages":[{"package":{"name":"a"},"vulnerabilities":[{}]}]}]}`, "results[0].packages[0].vulnerabilities[0].id"},
		{"osv max severity", scan.OSV, `{"results":[{"packages":[{"package":{"name":"a"},"vulnerabilities":[{"id":"X"}],"groups":[{"ids":["X"],"max_severity":"high"}]}]}]}`, "results[0].packages[0].groups[0].max_severity"},
		{"osv vector", scan.OSV, `{"results":[{"packages":[{"package":{"name":"a"},"vulnerabilities":[{"id":"X","severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N"}]}]}]}]}`, "results[0].packages[0].vulnerabilities[0].severity[0].score"},
		{"osv type", scan.OSV, `{"results":{}}`, "results"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := scan.Parse(tt.f, []byte(tt.in))
			if !errors.Is(err, scan.ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed", err)
			}
			if fault.KindOf(err) != fault.Invalid {
				t.Errorf("kind %v", fault.KindOf(err))
			}
			if tt.field != "" && fault.DetailsOf(err)["field"] != tt.field {
				t.Errorf("field = %v, want %s (%v)", fault.DetailsOf(err)["field"], tt.field, err)
			}
		})
	}
}

func TestEmptyReports(t *testing.T) {
	t.Parallel()
	for f, in := range map[scan.Format]string{scan.Trivy: `{"SchemaVersion":2,"ArtifactName":"x"}`, scan.OSV: `{"results":[]}`} {
		fs, err := scan.Parse(f, []byte(in))
		if err != nil || len(fs) != 0 {
			t.Errorf("%s: %v %v", f, fs, err)
		}
	}
}
