package app_test

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// metricName finds the firebreak metric names a PromQL expression uses.
var metricName = regexp.MustCompile(`firebreak_[a-z_]+`)

// TestGrafanaDashboardQueriesRegisteredMetrics parses
// deploy/grafana/firebreak.json and checks that every metric its panels
// query is exposed at /metrics by a running App (histograms by their
// _bucket/_sum/_count series).
func TestGrafanaDashboardQueriesRegisteredMetrics(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../deploy/grafana/firebreak.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string `json:"title"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("dashboard is not valid JSON: %v", err)
	}
	var queried []string
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q queries nothing", p.Title)
		}
		for _, tg := range p.Targets {
			for _, m := range metricName.FindAllString(tg.Expr, -1) {
				for _, suffix := range []string{"_bucket", "_sum", "_count"} {
					m = strings.TrimSuffix(m, suffix)
				}
				if !slices.Contains(queried, m) {
					queried = append(queried, m)
				}
			}
		}
	}
	if len(queried) < 10 {
		t.Fatalf("dashboard queries only %v", queried)
	}
	a := start(t, devConfig(t.TempDir()))
	reg := a.Registry()
	for _, m := range queried {
		// A vector without observations is not gathered yet, so probe the
		// registry: registering a collector under a name some registered
		// collector already describes fails.
		probe := prometheus.NewCounter(prometheus.CounterOpts{Name: m, Help: "probe"})
		if err := reg.Register(probe); err == nil {
			reg.Unregister(probe)
			t.Errorf("the dashboard queries %s, which the app does not register", m)
		}
	}
}
