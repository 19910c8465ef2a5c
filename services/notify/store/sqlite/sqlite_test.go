package sqlite_test

import (
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/internal/db/dbtest"
	"github.com/firebreak-dev/firebreak/services/notify"
	"github.com/firebreak-dev/firebreak/services/notify/store/sqlite"
	"github.com/firebreak-dev/firebreak/services/notify/storetest"
)

func open(t *testing.T) notify.Store {
	return sqlite.New(dbtest.SQLite(t, "outbox", "timer", "notify"), time.Now)
}

func TestStore(t *testing.T) {
	t.Parallel()
	storetest.Run(t, open)
}
