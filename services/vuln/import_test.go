package vuln_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/fault"
	"github.com/firebreak-dev/firebreak/services/vuln"
	"github.com/firebreak-dev/firebreak/services/vuln/cvss"
	"github.com/firebreak-dev/firebreak/services/vuln/scan"
)

func fixture(t testing.TB, name string) []byte {
	b, err := os.ReadFile("scan/testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestImportTrivy(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	ctx := context.Background()
	report := fixture(t, "trivy.json")
	res, err := h.svc.Import(ctx, "web", scan.Trivy, report, alice)
	if err != nil {
		t.Fatal(err)
	}
	if res != (vuln.ImportResult{Findings: 4, Created: 4}) {
		t.Fatalf("first import %+v", res)
	}
	if evs := h.newEvents(); len(evs) != 4 || evs[0].Type != events.TypeVulnCreated {
		t.Fatalf("first import events %v", types(evs))
	}
	// The same report again: nothing changes, no event.
	res, err = h.svc.Import(ctx, "web", scan.Trivy, report, alice)
	if err != nil || res != (vuln.ImportResult{Findings: 4, Unchanged: 4}) {
		t.Fatalf("re-import %+v %v", res, err)
	}
	if evs := h.newEvents(); len(evs) != 0 {
		t.Fatalf("a no-change re-import emitted %v", types(evs))
	}
	// A fixed version appears and a severity drops: updated, not duplicated.
	changed := strings.Replace(string(report), `"FixedVersion": "0.17.0",`, `"FixedVersion": "0.17.1",`, 2)
	changed = strings.Replace(changed, `"V3Vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "V3Score": 9.8`, `"V3Vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", "V3Score": 7.5`, 1)
	res, err = h.svc.Import(ctx, "web", scan.Trivy, []byte(changed), alice)
	if err != nil || res != (vuln.ImportResult{Findings: 4, Updated: 2, Unchanged: 2}) {
		t.Fatalf("changed import %+v %v", res, err)
	}
	evs := h.newEvents()
	if len(evs) != 2 || evs[0].Type != events.TypeVulnUpdated {
		t.Fatalf("changed import events %v", types(evs))
	}
	all, _ := h.svc.List(ctx, vuln.Filter{})
	if len(all) != 4 {
		t.Fatalf("%d records after three imports", len(all))
	}
	zlib := all[1]
	if zlib.Component != "zlib1g" || zlib.Severity != cvss.High {
		t.Errorf("zlib after rescoring %+v", zlib)
	}
	hist, _ := h.svc.History(ctx, zlib.ID)
	if last := hist[len(hist)-1]; last.Kind != vuln.HistorySeverity || !strings.Contains(last.Reason, "Critical → High") {
		t.Errorf("rescoring by import not recorded with why: %+v", last)
	}
	// The same report for another product is another set of records.
	if res, _ := h.svc.Import(ctx, "server", scan.Trivy, report, alice); res.Created != 4 {
		t.Errorf("other product %+v", res)
	}
}

func TestImportOSV(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	res, err := h.svc.Import(context.Background(), "web", scan.OSV, fixture(t, "osv.json"), alice)
	if err != nil || res.Created != 3 {
		t.Fatalf("%+v %v", res, err)
	}
	res, _ = h.svc.Import(context.Background(), "web", scan.OSV, fixture(t, "osv.json"), alice)
	if res.Unchanged != 3 {
		t.Errorf("re-import %+v", res)
	}
}

// TestImportAtomic: a malformed report, or one that fails half way,
// imports nothing.
func TestImportAtomic(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	ctx := context.Background()
	good := fixture(t, "trivy.json")
	bad := strings.Replace(string(good), `"PkgName": "apt"`, `"PkgName": ""`, 1)
	_, err := h.svc.Import(ctx, "web", scan.Trivy, []byte(bad), alice)
	if !errors.Is(err, scan.ErrMalformed) || fault.DetailsOf(err)["field"] != "Results[0].Vulnerabilities[2].PkgName" {
		t.Fatalf("malformed: %v %v", err, fault.DetailsOf(err))
	}
	// A component name too long for the store is found after two records
	// would have been written: the transaction rolls back.
	long := strings.Replace(string(good), `"PkgName": "apt"`, fmt.Sprintf(`"PkgName": %q`, strings.Repeat("a", 600)), 1)
	if _, err := h.svc.Import(ctx, "web", scan.Trivy, []byte(long), alice); fault.KindOf(err) != fault.Invalid {
		t.Fatalf("long component: %v", err)
	}
	if _, err := h.svc.Import(ctx, "nope", scan.Trivy, good, alice); fault.DetailsOf(err)["field"] != "product" {
		t.Fatalf("unknown product: %v", err)
	}
	if all, _ := h.svc.List(ctx, vuln.Filter{}); len(all) != 0 {
		t.Errorf("%d records after failed imports", len(all))
	}
	if evs := h.newEvents(); len(evs) != 0 {
		t.Errorf("failed imports emitted %v", types(evs))
	}
}
