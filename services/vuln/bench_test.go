package vuln_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/firebreak-dev/firebreak/internal/db/dbtest"
	"github.com/firebreak-dev/firebreak/services/vuln"
	"github.com/firebreak-dev/firebreak/services/vuln/cvss"
	"github.com/firebreak-dev/firebreak/services/vuln/policy"
	"github.com/firebreak-dev/firebreak/services/vuln/scan"
	vulnsqlite "github.com/firebreak-dev/firebreak/services/vuln/store/sqlite"
)

// genTrivy builds a Trivy report (SchemaVersion 2) of n distinct findings
// spread over 20 targets, with realistic fields and CVSS vectors.
func genTrivy(n int) []byte {
	type cv struct {
		V3Vector string
		V3Score  float64
	}
	type vul struct {
		VulnerabilityID, PkgID, PkgName, InstalledVersion, FixedVersion, Status, SeveritySource, PrimaryURL, Title, Description, Severity string
		CweIDs                                                                                                                            []string
		CVSS                                                                                                                              map[string]cv
	}
	type result struct {
		Target, Class, Type string
		Vulnerabilities     []vul
	}
	vectors := []struct {
		v   string
		s   float64
		sev string
	}{
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8, "CRITICAL"},
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", 7.5, "HIGH"},
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:L", 5.3, "MEDIUM"},
		{"CVSS:3.1/AV:L/AC:H/PR:L/UI:N/S:U/C:L/I:N/A:N", 2.5, "LOW"},
	}
	rs := make([]result, 20)
	for i := range rs {
		rs[i] = result{Target: fmt.Sprintf("app/bin%d", i), Class: "lang-pkgs", Type: "gobinary"}
	}
	for i := range n {
		v := vectors[i%len(vectors)]
		pkg := fmt.Sprintf("github.com/example/mod%d", i%997)
		rs[i%20].Vulnerabilities = append(rs[i%20].Vulnerabilities, vul{
			VulnerabilityID: fmt.Sprintf("CVE-2025-%05d", i), PkgID: pkg + "@v1.2.3", PkgName: pkg, InstalledVersion: "v1.2.3",
			FixedVersion: "1.2.4", Status: "fixed", SeveritySource: "nvd", PrimaryURL: fmt.Sprintf("https://avd.aquasec.com/nvd/cve-2025-%05d", i),
			Title: fmt.Sprintf("%s: denial of service in parser (%d)", pkg, i), Description: "A crafted input causes unbounded memory growth in the parser, leading to a denial of service.",
			Severity: v.sev, CweIDs: []string{"CWE-400"}, CVSS: map[string]cv{"nvd": {V3Vector: v.v, V3Score: v.s}},
		})
	}
	b, err := json.Marshal(map[string]any{"SchemaVersion": 2, "ArtifactName": "registry.example.com/web:4.2.0", "ArtifactType": "container_image", "Results": rs})
	if err != nil {
		panic(err)
	}
	return b
}

// TestReimport10kNoEvents: re-importing an unchanged 10 000-finding
// report (500 under the race detector) writes no event and changes
// nothing.
func TestReimport10kNoEvents(t *testing.T) {
	t.Parallel()
	n := 10_000
	if raceEnabled || testing.Short() {
		n = 500
	}
	h := newHarness(t, nil)
	report := genTrivy(n)
	ctx := context.Background()
	res, err := h.svc.Import(ctx, "web", scan.Trivy, report, alice)
	if err != nil || res.Created != n {
		t.Fatalf("first import %+v %v", res, err)
	}
	before, _ := h.store.OutboxCount(ctx)
	if before != int64(n) {
		t.Fatalf("%d events for %d new findings", before, n)
	}
	res, err = h.svc.Import(ctx, "web", scan.Trivy, report, alice)
	if err != nil || res.Unchanged != n || res.Created+res.Updated != 0 {
		t.Fatalf("re-import %+v %v", res, err)
	}
	if after, _ := h.store.OutboxCount(ctx); after != before {
		t.Errorf("re-import wrote %d events", after-before)
	}
}

// BenchmarkImportTrivy10k: importing a generated 10 000-finding Trivy
// report into a fresh SQLite store (one transaction), re-importing it
// unchanged, and two baselines on the same bytes: a bare JSON decode and
// the parse alone.
func BenchmarkImportTrivy10k(b *testing.B) {
	const n = 10_000
	report := genTrivy(n)
	b.Logf("report: %d findings, %.1f MB", n, float64(len(report))/1e6)
	ctx := context.Background()
	b.Run("baseline-json-decode", func(b *testing.B) {
		b.SetBytes(int64(len(report)))
		for b.Loop() {
			var v any
			if err := json.Unmarshal(report, &v); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "findings/s")
	})
	b.Run("parse", func(b *testing.B) {
		b.SetBytes(int64(len(report)))
		for b.Loop() {
			if _, err := scan.ParseTrivy(report); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "findings/s")
	})
	b.Run("import", func(b *testing.B) {
		var total time.Duration
		for b.Loop() {
			b.StopTimer()
			svc := benchService(b)
			b.StartTimer()
			start := time.Now()
			res, err := svc.Import(ctx, "web", scan.Trivy, report, alice)
			total += time.Since(start)
			if err != nil || res.Created != n {
				b.Fatalf("%+v %v", res, err)
			}
		}
		b.ReportMetric(float64(n)*float64(b.N)/total.Seconds(), "findings/s")
	})
	b.Run("reimport-unchanged", func(b *testing.B) {
		svc := benchService(b)
		if _, err := svc.Import(ctx, "web", scan.Trivy, report, alice); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for b.Loop() {
			res, err := svc.Import(ctx, "web", scan.Trivy, report, alice)
			if err != nil || res.Unchanged != n {
				b.Fatalf("%+v %v", res, err)
			}
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "findings/s")
	})
}

func benchService(b *testing.B) *vuln.Service {
	d := dbtest.SQLite(b, "outbox", "timer", "vuln")
	svc, err := vuln.New(vulnsqlite.New(d, nil), nil, vuln.Config{})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := svc.PutProduct(context.Background(), vuln.Product{Name: "web", Hosting: policy.Cloud, Service: "checkout"}); err != nil {
		b.Fatal(err)
	}
	return svc
}

// BenchmarkSLASweep100k: reading the SLA clock of 100 000 open
// vulnerabilities (the report's sweep), against a plain SELECT of the
// same rows as baseline.
func BenchmarkSLASweep100k(b *testing.B) {
	const n = 100_000
	ctx := context.Background()
	d := dbtest.SQLite(b, "outbox", "timer", "vuln")
	st := vulnsqlite.New(d, nil)
	now := time.Now().UTC()
	sevs := []cvss.Severity{cvss.Critical, cvss.High, cvss.Medium, cvss.Low}
	for chunk := 0; chunk < n; chunk += 10_000 {
		if err := st.InTx(ctx, func(tx vuln.Tx) error {
			for i := chunk; i < chunk+10_000; i++ {
				v := vuln.Vuln{ID: uuid.Must(uuid.NewV7()).String(), Number: int64(i + 1), Title: "finding", Product: "web",
					Component: fmt.Sprintf("mod%d", i), AdvisoryID: fmt.Sprintf("CVE-2025-%06d", i), Severity: sevs[i%4],
					Hosting: policy.Cloud, Service: "checkout", Source: vuln.SourceScanner, Status: vuln.StatusTriaged,
					ReportedAt: now.Add(-time.Duration(i%200) * 24 * time.Hour), CreatedAt: now, UpdatedAt: now}
				if err := tx.VulnInsert(ctx, v); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
	svc, err := vuln.New(st, nil, vuln.Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("baseline-select", func(b *testing.B) {
		for b.Loop() {
			rows, err := d.QueryContext(ctx, `SELECT doc, version FROM vuln_vulns WHERE status NOT IN ('released', 'communicated', 'closed', 'rejected', 'duplicate') ORDER BY number`)
			if err != nil {
				b.Fatal(err)
			}
			c := 0
			for rows.Next() {
				var doc string
				var ver int64
				if err := rows.Scan(&doc, &ver); err != nil {
					b.Fatal(err)
				}
				c++
			}
			rows.Close()
			if c != n {
				b.Fatalf("%d rows", c)
			}
		}
	})
	b.Run("sweep", func(b *testing.B) {
		for b.Loop() {
			sw, err := svc.Sweep(ctx, now)
			if err != nil || sw.Total != n {
				b.Fatalf("%+v %v", sw.Total, err)
			}
		}
	})
}
