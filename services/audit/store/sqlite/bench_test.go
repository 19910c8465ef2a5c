package sqlite_test

import (
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/db"
	"github.com/firebreak-dev/firebreak/internal/db/dbtest"
	"github.com/firebreak-dev/firebreak/services/audit"
	"github.com/firebreak-dev/firebreak/services/audit/store/sqlite"
)

func benchEnvs(b *testing.B, n int) []events.Envelope {
	b.Helper()
	envs := make([]events.Envelope, n)
	actor := events.Actor{Kind: events.ActorUser, ID: "alice", Channel: events.ChannelSlack}
	for i := range envs {
		inc := fmt.Sprintf("inc-%d", i%100)
		env, err := events.New(events.TypeIncidentNoteAdded, "incident", inc, actor,
			map[string]any{"incident_id": inc, "note": "rolled back deploy 118", "number": i})
		if err != nil {
			b.Fatal(err)
		}
		envs[i] = env
	}
	return envs
}

// appendBatches are the batch sizes of BenchmarkAppend: one message per
// transaction (a consumer with a single message available), and what a
// consumer takes from a backlog.
var appendBatches = []int{1, 100, 1000}

// BenchmarkAppend appends through the store, batch envelopes per
// transaction: canonical JSON, hash chain, inbox and record rows, head.
// BenchmarkAppendBaseline inserts the same rows (entries canonicalized
// and hashed beforehand) with a plain prepared INSERT and no inbox or
// head, the floor SQLite itself sets; records/s of both in one run give
// the ratio.
func BenchmarkAppend(b *testing.B) {
	for _, batch := range appendBatches {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			s := sqlite.New(dbtest.SQLite(b, "outbox", "audit"))
			envs := benchEnvs(b, 50_000)
			ctx := b.Context()
			n, round := 0, 0
			for b.Loop() {
				if n+batch > len(envs) {
					b.StopTimer()
					round++
					for i := range envs { // fresh ids: the log takes a message once
						envs[i].ID = fmt.Sprintf("r%04d-%s", round, envs[i].ID[6:])
					}
					n = 0
					b.StartTimer()
				}
				if _, err := s.Append(ctx, "bench", time.Now(), envs[n:n+batch]...); err != nil {
					b.Fatal(err)
				}
				n += batch
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

func BenchmarkAppendBaseline(b *testing.B) {
	for _, batch := range appendBatches {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			d := dbtest.SQLite(b, "outbox", "audit")
			envs := benchEnvs(b, 50_000)
			recs, err := audit.NewRecords(envs, time.Now())
			if err != nil {
				b.Fatal(err)
			}
			prev := audit.GenesisHash
			for i := range recs {
				recs[i].PrevHash = prev
				recs[i].Hash = audit.Hash(prev, recs[i].Entry)
				prev = recs[i].Hash
			}
			ctx := b.Context()
			stmt, err := d.PrepareContext(ctx, `INSERT INTO audit_record (seq, recorded_at, msg_id, type, subject, actor_kind, actor_id, incident_id, entry, prev_hash, hash)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
			if err != nil {
				b.Fatal(err)
			}
			defer stmt.Close()
			seq, n := int64(0), 0
			at := db.FormatTime(time.Now())
			for b.Loop() {
				err := db.InTx(ctx, d, func(tx *sql.Tx) error {
					st := tx.StmtContext(ctx, stmt)
					for range batch {
						r := recs[n%len(recs)]
						seq++
						n++
						if _, err := st.ExecContext(ctx, seq, at, fmt.Sprintf("%d", seq), r.Type, r.Subject, r.ActorKind, r.ActorID, r.IncidentID, r.Entry, r.PrevHash, r.Hash); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// BenchmarkVerify verifies a chain of 1 000 000 records, written straight
// through the store in the setup (in batches of 1000). The baseline, on the
// same database in the same run, only reads every record's entry and hashes
// in seq order and recomputes sha256(prev_hash || entry): the floor of any
// verification that reads the log from SQLite.
func BenchmarkVerify(b *testing.B) {
	const total, batch = 1_000_000, 1000
	d := dbtest.SQLite(b, "outbox", "audit")
	s := sqlite.New(d)
	ctx := b.Context()
	envs := benchEnvs(b, batch)
	for i := 0; i < total; i += batch {
		for j := range envs { // fresh ids: the log refuses a message twice
			envs[j].ID = fmt.Sprintf("%08d-%04d", i, j)
		}
		if _, err := s.Append(ctx, "bench", time.Now(), envs...); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("verify", func(b *testing.B) {
		for b.Loop() {
			rep, err := audit.Verify(ctx, s)
			if err != nil || !rep.OK || rep.Records != total {
				b.Fatalf("verify = %+v, %v", rep, err)
			}
		}
		b.ReportMetric(total, "records")
	})
	b.Run("baseline=scan+sha256", func(b *testing.B) {
		for b.Loop() {
			rows, err := d.QueryContext(ctx, `SELECT entry, prev_hash, hash FROM audit_record ORDER BY seq`)
			if err != nil {
				b.Fatal(err)
			}
			n := 0
			var entry, prev, hash []byte
			for rows.Next() {
				if err := rows.Scan(&entry, &prev, &hash); err != nil {
					b.Fatal(err)
				}
				if audit.Hash(string(prev), string(entry)) != string(hash) {
					b.Fatal("hash mismatch")
				}
				n++
			}
			if err := rows.Err(); err != nil || n != total {
				b.Fatalf("scanned %d rows: %v", n, err)
			}
			rows.Close()
		}
		b.ReportMetric(total, "records")
	})
}
