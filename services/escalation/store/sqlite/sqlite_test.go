package sqlite_test

import (
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/internal/db/dbtest"
	"github.com/firebreak-dev/firebreak/services/escalation"
	"github.com/firebreak-dev/firebreak/services/escalation/store/sqlite"
	"github.com/firebreak-dev/firebreak/services/escalation/storetest"
)

func open(t *testing.T) escalation.Store {
	return sqlite.New(dbtest.SQLite(t, "outbox", "timer", "escalation"), time.Now)
}

func TestStore(t *testing.T) {
	t.Parallel()
	storetest.Run(t, open)
}
