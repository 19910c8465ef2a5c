package postgres_test

import (
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/internal/db/dbtest"
	"github.com/firebreak-dev/firebreak/services/incident"
	"github.com/firebreak-dev/firebreak/services/incident/store/postgres"
	"github.com/firebreak-dev/firebreak/services/incident/storetest"
)

func open(t *testing.T) incident.Store {
	pool, _ := dbtest.Postgres(t, "outbox", "incident")
	return postgres.New(pool, time.Now)
}

func TestStore(t *testing.T) {
	t.Parallel()
	storetest.Run(t, open)
}
