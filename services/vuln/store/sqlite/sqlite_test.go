package sqlite_test

import (
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/internal/db/dbtest"
	"github.com/firebreak-dev/firebreak/services/vuln"
	"github.com/firebreak-dev/firebreak/services/vuln/store/sqlite"
	"github.com/firebreak-dev/firebreak/services/vuln/storetest"
)

func TestStore(t *testing.T) {
	t.Parallel()
	storetest.Run(t, open)
}

func open(t *testing.T) vuln.Store {
	return sqlite.New(dbtest.SQLite(t, "outbox", "timer", "vuln"), time.Now)
}
