package sqlite_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/db/dbtest"
	"github.com/firebreak-dev/firebreak/services/incident"
	"github.com/firebreak-dev/firebreak/services/incident/store/sqlite"
	"github.com/firebreak-dev/firebreak/services/incident/storetest"
)

func open(t *testing.T) incident.Store {
	return sqlite.New(dbtest.SQLite(t, "outbox", "incident"), time.Now)
}

func TestStore(t *testing.T) {
	t.Parallel()
	storetest.Run(t, open)
}

// BenchmarkIncidentCreate measures one transaction that allocates a number,
// creates an incident and emits its event, the path of every new incident.
func BenchmarkIncidentCreate(b *testing.B) {
	s := sqlite.New(dbtest.SQLite(b, "outbox", "incident"), time.Now)
	ctx := b.Context()
	now := time.Now().UTC()
	i := 0
	for b.Loop() {
		i++
		id := fmt.Sprintf("inc-%d", i)
		env := events.MustNew(events.TypeIncidentTriggered, "incident", id, events.System("incident"), map[string]string{"id": id})
		err := s.InTx(ctx, func(tx incident.Tx) error {
			_, err := tx.IncidentCreate(ctx, incident.Incident{
				ID: id, Service: "checkout", DedupKey: id, Title: "bench", Severity: "SEV3",
				Status: incident.StatusTriggered, AlertCount: 1, Version: 1,
				CreatedAt: now, UpdatedAt: now, LastAlertAt: now,
			})
			if err != nil {
				return err
			}
			return tx.Emit(ctx, env)
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}
