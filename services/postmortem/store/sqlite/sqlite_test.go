package sqlite_test

import (
	"context"
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

func TestUnrendered(t *testing.T) {
	t.Parallel()
	d := dbtest.SQLite(t, "outbox", "timer", "postmortem")
	ctx := context.Background()
	storetest.RunUnrendered(t, sqlite.New(d, time.Now), func() error {
		_, err := d.ExecContext(ctx, `UPDATE pm_timeline SET entry_json = NULL`)
		return err
	}, func(id string) (n int64, err error) {
		err = d.QueryRowContext(ctx, `SELECT count(*) FROM pm_timeline WHERE incident_id = ? AND entry_json IS NULL`, id).Scan(&n)
		return n, err
	})
}
