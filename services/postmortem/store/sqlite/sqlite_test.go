package sqlite_test

import (
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/internal/db/dbtest"
	"github.com/firebreak-dev/firebreak/services/postmortem"
	"github.com/firebreak-dev/firebreak/services/postmortem/store/sqlite"
	"github.com/firebreak-dev/firebreak/services/postmortem/storetest"
)

func open(t *testing.T) postmortem.Store {
	return sqlite.New(dbtest.SQLite(t, "outbox", "timer", "postmortem"), time.Now)
}

func TestStore(t *testing.T) {
	t.Parallel()
	storetest.Run(t, open)
}
