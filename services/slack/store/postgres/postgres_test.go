package postgres_test

import (
	"testing"

	"github.com/firebreak-dev/firebreak/internal/db/dbtest"
	"github.com/firebreak-dev/firebreak/services/slack"
	"github.com/firebreak-dev/firebreak/services/slack/store/postgres"
	"github.com/firebreak-dev/firebreak/services/slack/storetest"
)

func TestStore(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) slack.Store {
		pool, _ := dbtest.Postgres(t, "outbox", "slack")
		return postgres.New(pool, nil)
	})
}
