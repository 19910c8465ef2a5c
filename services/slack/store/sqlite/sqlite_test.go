package sqlite_test

import (
	"testing"

	"github.com/firebreak-dev/firebreak/internal/db/dbtest"
	"github.com/firebreak-dev/firebreak/services/slack"
	"github.com/firebreak-dev/firebreak/services/slack/store/sqlite"
	"github.com/firebreak-dev/firebreak/services/slack/storetest"
)

func TestStore(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) slack.Store {
		return sqlite.New(dbtest.SQLite(t, "outbox", "slack"), nil)
	})
}
