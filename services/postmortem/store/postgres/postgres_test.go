package postgres_test

import (
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/internal/db/dbtest"
	"github.com/firebreak-dev/firebreak/services/postmortem"
	"github.com/firebreak-dev/firebreak/services/postmortem/store/postgres"
	"github.com/firebreak-dev/firebreak/services/postmortem/storetest"
)

func open(t *testing.T) postmortem.Store {
	pool, _ := dbtest.Postgres(t, "outbox", "timer", "postmortem")
	return postgres.New(pool, time.Now)
}

func TestStore(t *testing.T) {
	t.Parallel()
	storetest.Run(t, open)
}
