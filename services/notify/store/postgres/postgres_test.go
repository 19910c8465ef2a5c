package postgres_test

import (
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/internal/db/dbtest"
	"github.com/firebreak-dev/firebreak/services/notify"
	"github.com/firebreak-dev/firebreak/services/notify/store/postgres"
	"github.com/firebreak-dev/firebreak/services/notify/storetest"
)

func open(t *testing.T) notify.Store {
	pool, _ := dbtest.Postgres(t, "outbox", "timer", "notify")
	return postgres.New(pool, time.Now)
}

func TestStore(t *testing.T) {
	t.Parallel()
	storetest.Run(t, open)
}
