package sqlite_test

import (
	"testing"

	"github.com/firebreak-dev/firebreak/internal/db/dbtest"
	"github.com/firebreak-dev/firebreak/services/audit/store/sqlite"
	"github.com/firebreak-dev/firebreak/services/audit/storetest"
)

func TestStore(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) storetest.Harness {
		d := dbtest.SQLite(t, "outbox", "audit")
		return storetest.Harness{Store: sqlite.New(d), Exec: func(t *testing.T, stmt string) {
			t.Helper()
			if _, err := d.ExecContext(t.Context(), stmt); err != nil {
				t.Fatalf("%s: %v", stmt, err)
			}
		}}
	})
}
