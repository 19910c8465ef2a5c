package postgres_test

import (
	"context"
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

func TestUnrendered(t *testing.T) {
	t.Parallel()
	pool, _ := dbtest.Postgres(t, "outbox", "timer", "postmortem")
	ctx := context.Background()
	storetest.RunUnrendered(t, postgres.New(pool, time.Now), func() error {
		_, err := pool.Exec(ctx, `UPDATE pm_timeline SET entry_json = NULL`)
		return err
	}, func(id string) (n int64, err error) {
		err = pool.QueryRow(ctx, `SELECT count(*) FROM pm_timeline WHERE incident_id = $1 AND entry_json IS NULL`, id).Scan(&n)
		return n, err
	})
}
