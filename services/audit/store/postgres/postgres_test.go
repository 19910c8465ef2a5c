package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/db"
	"github.com/firebreak-dev/firebreak/internal/db/dbtest"
	"github.com/firebreak-dev/firebreak/services/audit"
	"github.com/firebreak-dev/firebreak/services/audit/store/postgres"
	"github.com/firebreak-dev/firebreak/services/audit/storetest"
)

func TestStore(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) storetest.Harness {
		pool, _ := dbtest.Postgres(t, "outbox", "audit")
		return storetest.Harness{Store: postgres.New(pool), Exec: func(t *testing.T, stmt string) {
			t.Helper()
			if _, err := pool.Exec(t.Context(), stmt); err != nil {
				t.Fatalf("%s: %v", stmt, err)
			}
		}}
	})
}

// TestTwoReplicasDoNotFork: two processes' stores (separate pools) append
// to one schema at once, some messages delivered to both; the chain stays
// one line with every message once.
func TestTwoReplicasDoNotFork(t *testing.T) {
	t.Parallel()
	pool, schema := dbtest.Postgres(t, "outbox", "audit")
	pool2, err := db.OpenPostgres(t.Context(), dbtest.PostgresURL(t), schema)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool2.Close)
	replicas := []*postgres.Store{postgres.New(pool), postgres.New(pool2)}
	const n = 60
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	all := make([]events.Envelope, n)
	for i := range n {
		all[i] = storetest.Env(t, i, fmt.Sprintf("inc-%d", i%4))
	}
	for r, s := range replicas {
		wg.Go(func() {
			for i := range n {
				// Both replicas see every third message (a redelivery
				// after a lost ack); the others are split between them.
				if i%3 != 0 && i%2 != r {
					continue
				}
				if _, err := s.Append(context.Background(), "audit", time.Now(), all[i]); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	rep, err := audit.Verify(t.Context(), replicas[0])
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK || rep.Records != n {
		t.Fatalf("verify = %+v, want OK with %d records", rep, n)
	}
}
