package postgres_test

import (
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/internal/db/dbtest"
	"github.com/firebreak-dev/firebreak/services/vuln"
	"github.com/firebreak-dev/firebreak/services/vuln/store/postgres"
	"github.com/firebreak-dev/firebreak/services/vuln/storetest"
)

func TestStore(t *testing.T) {
	t.Parallel()
	storetest.Run(t, open)
}

func open(t *testing.T) vuln.Store {
	pool, _ := dbtest.Postgres(t, "outbox", "timer", "vuln")
	return postgres.New(pool, time.Now)
}
