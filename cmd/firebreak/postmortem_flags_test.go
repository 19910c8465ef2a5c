package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/firebreak-dev/firebreak/internal/app"
)

// TestPostmortemPageOverdueAfter: owners are not paged unless asked; the
// flag is set by FIREBREAK_POSTMORTEM_PAGE_OVERDUE_AFTER or the YAML key
// postmortem-page-overdue-after, the variable winning over the file.
func TestPostmortemPageOverdueAfter(t *testing.T) {
	file := filepath.Join(t.TempDir(), "fb.yaml")
	if err := os.WriteFile(file, []byte("postmortem-page-overdue-after: 48h\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	parse := func(args ...string) app.PostmortemConfig {
		t.Helper()
		var pm app.PostmortemConfig
		cmd := &cobra.Command{Use: "dev"}
		cmd.Flags().String("config", "", "")
		postmortemFlags(cmd.Flags(), &pm)
		if err := cmd.ParseFlags(args); err != nil {
			t.Fatal(err)
		}
		if err := applyConfig(cmd); err != nil {
			t.Fatal(err)
		}
		return pm
	}
	if pm := parse(); pm.PageOverdueAfter != 0 || pm.OverdueAfter != 24*time.Hour {
		t.Fatalf("defaults %+v", pm)
	}
	if pm := parse("--config", file); pm.PageOverdueAfter != 48*time.Hour {
		t.Fatalf("from the file %+v", pm)
	}
	t.Setenv("FIREBREAK_POSTMORTEM_PAGE_OVERDUE_AFTER", "72h")
	if pm := parse("--config", file); pm.PageOverdueAfter != 72*time.Hour {
		t.Fatalf("from the environment %+v", pm)
	}
	if pm := parse("--config", file, "--postmortem-page-overdue-after", "2h"); pm.PageOverdueAfter != 2*time.Hour {
		t.Fatalf("from the flag %+v", pm)
	}
}
