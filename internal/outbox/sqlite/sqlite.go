// Package sqlite is the SQLite adapter of the outbox and inbox.
package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/db"
	"github.com/firebreak-dev/firebreak/internal/outbox"
	"github.com/firebreak-dev/firebreak/internal/outbox/sqlite/gen"
)

// Enqueue writes envelopes to the outbox inside the caller's transaction.
func Enqueue(ctx context.Context, tx gen.DBTX, now time.Time, envs ...events.Envelope) error {
	q := gen.New(tx)
	for _, e := range envs {
		r, err := outbox.FromEnvelope(e)
		if err != nil {
			return err
		}
		if err := q.OutboxInsert(ctx, gen.OutboxInsertParams{MsgID: r.MsgID, Subject: r.Subject, Payload: r.Payload, CreatedAt: db.FormatTime(now)}); err != nil {
			return fmt.Errorf("outbox insert %s: %w", e.Type, err)
		}
	}
	return nil
}

// MarkProcessed records that consumer applied msgID, inside the caller's
// transaction. It reports false when the message was applied before.
func MarkProcessed(ctx context.Context, tx gen.DBTX, consumer, msgID string, now time.Time) (bool, error) {
	n, err := gen.New(tx).InboxInsert(ctx, gen.InboxInsertParams{Consumer: consumer, MsgID: msgID, ProcessedAt: db.FormatTime(now)})
	if err != nil {
		return false, fmt.Errorf("inbox insert: %w", err)
	}
	return n == 1, nil
}

// Store reads and trims the outbox for the relay.
type Store struct{ db *sql.DB }

// New returns the outbox store of a migrated SQLite database.
func New(d *sql.DB) *Store { return &Store{db: d} }

// Pending returns up to limit unpublished records, oldest first.
func (s *Store) Pending(ctx context.Context, limit int) ([]outbox.Record, error) {
	rows, err := gen.New(s.db).OutboxPending(ctx, int64(limit))
	if err != nil {
		return nil, fmt.Errorf("outbox pending: %w", err)
	}
	out := make([]outbox.Record, len(rows))
	for i, r := range rows {
		out[i] = outbox.Record{Seq: r.Seq, MsgID: r.MsgID, Subject: r.Subject, Payload: r.Payload}
	}
	return out, nil
}

// Delete removes published records.
func (s *Store) Delete(ctx context.Context, seqs []int64) error {
	return db.InTx(ctx, s.db, func(tx *sql.Tx) error {
		q := gen.New(tx)
		for _, seq := range seqs {
			if err := q.OutboxDelete(ctx, seq); err != nil {
				return fmt.Errorf("outbox delete: %w", err)
			}
		}
		return nil
	})
}

// Count returns the number of unpublished records.
func (s *Store) Count(ctx context.Context) (int64, error) {
	return gen.New(s.db).OutboxCount(ctx)
}

// PruneInbox forgets inbox entries older than before; JetStream redelivers
// nothing that old, so they can no longer protect against anything.
func (s *Store) PruneInbox(ctx context.Context, before time.Time) (int64, error) {
	return gen.New(s.db).InboxPrune(ctx, db.FormatTime(before))
}
