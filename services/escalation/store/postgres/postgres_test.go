package postgres_test

import (
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/internal/db/dbtest"
	"github.com/firebreak-dev/firebreak/services/escalation"
	"github.com/firebreak-dev/firebreak/services/escalation/store/postgres"
	"github.com/firebreak-dev/firebreak/services/escalation/storetest"
)

func open(t *testing.T) escalation.Store {
	pool, _ := dbtest.Postgres(t, "outbox", "timer", "escalation")
	return postgres.New(pool, time.Now)
}

func TestStore(t *testing.T) {
	t.Parallel()
	storetest.Run(t, open)
}
