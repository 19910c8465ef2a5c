// Package sqlite is the SQLite adapter of the audit log. It maps the
// sqlc-generated code in gen/ to package audit's types; generated types
// never leave this package.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/db"
	"github.com/firebreak-dev/firebreak/services/audit"
	"github.com/firebreak-dev/firebreak/services/audit/store/sqlite/gen"
)

// Store is the audit log on a SQLite database migrated with the "outbox"
// and "audit" sets.
type Store struct {
	db *sql.DB

	mu sync.Mutex
	// prepared holds the statements prepared once (per connection) for
	// the append path; nil until the first append.
	prepared *gen.Queries
}

var _ audit.Store = (*Store)(nil)

// New returns the store of d.
func New(d *sql.DB) *Store { return &Store{db: d} }

func (s *Store) queries(ctx context.Context) (*gen.Queries, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.prepared == nil {
		q, err := gen.Prepare(ctx, s.db)
		if err != nil {
			return nil, fmt.Errorf("audit: prepare statements: %w", err)
		}
		s.prepared = q
	}
	return s.prepared, nil
}

// Append implements audit.Store. SQLite transactions here are IMMEDIATE,
// so appends from every connection and process serialize on the write lock.
// The entries are canonicalized before the transaction, so the lock is
// held only for the inserts and the chain's hashes.
func (s *Store) Append(ctx context.Context, consumer string, recordedAt time.Time, envs ...events.Envelope) ([]audit.Record, error) {
	if len(envs) == 0 {
		return nil, nil
	}
	prepared, err := s.queries(ctx)
	if err != nil {
		return nil, err
	}
	recs, err := audit.NewRecords(envs, recordedAt)
	if err != nil {
		return nil, err
	}
	at := db.FormatTime(recs[0].RecordedAt)
	out := make([]audit.Record, 0, len(recs))
	err = db.InTx(ctx, s.db, func(tx *sql.Tx) error {
		out = out[:0]
		q := prepared.WithTx(tx)
		head, err := q.AuditHeadGet(ctx)
		if err != nil {
			return fmt.Errorf("audit head: %w", err)
		}
		seq, prev := head.Seq, head.Hash
		for _, r := range recs {
			fresh, err := q.AuditInboxInsert(ctx, gen.AuditInboxInsertParams{Consumer: consumer, MsgID: r.MsgID, ProcessedAt: at})
			if err != nil {
				return fmt.Errorf("inbox insert: %w", err)
			}
			if fresh == 0 {
				continue
			}
			r.Seq, r.PrevHash = seq+1, prev
			r.Hash = audit.Hash(prev, r.Entry)
			n, err := q.AuditRecordInsert(ctx, gen.AuditRecordInsertParams{
				Seq: r.Seq, RecordedAt: at, MsgID: r.MsgID, Type: r.Type, Subject: r.Subject,
				ActorKind: r.ActorKind, ActorID: r.ActorID, IncidentID: r.IncidentID, Entry: r.Entry, PrevHash: r.PrevHash, Hash: r.Hash,
			})
			if err != nil {
				return fmt.Errorf("audit append %s: %w", r.MsgID, err)
			}
			if n == 0 {
				continue // another consumer logged the same message
			}
			seq, prev = r.Seq, r.Hash
			out = append(out, r)
		}
		if len(out) == 0 {
			return nil
		}
		return q.AuditHeadSet(ctx, gen.AuditHeadSetParams{Seq: seq, Hash: prev})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func record(r gen.AuditRecord) (audit.Record, error) {
	at, err := db.ParseTime(r.RecordedAt)
	if err != nil {
		return audit.Record{}, err
	}
	return audit.Record{
		Seq: r.Seq, RecordedAt: at, MsgID: r.MsgID, Type: r.Type, Subject: r.Subject, ActorKind: r.ActorKind,
		ActorID: r.ActorID, IncidentID: r.IncidentID, Entry: r.Entry, PrevHash: r.PrevHash, Hash: r.Hash,
	}, nil
}

// Contains implements audit.Store.
func (s *Store) Contains(ctx context.Context, msgID string) (bool, error) {
	n, err := gen.New(s.db).AuditRecordExists(ctx, msgID)
	if err != nil {
		return false, fmt.Errorf("audit record exists: %w", err)
	}
	return n > 0, nil
}

// Get implements audit.Store.
func (s *Store) Get(ctx context.Context, seq int64) (audit.Record, error) {
	r, err := gen.New(s.db).AuditRecordGet(ctx, seq)
	if errors.Is(err, sql.ErrNoRows) {
		return audit.Record{}, fmt.Errorf("audit record %d: %w", seq, audit.ErrNotFound)
	}
	if err != nil {
		return audit.Record{}, fmt.Errorf("audit record %d: %w", seq, err)
	}
	return record(r)
}

// Range implements audit.Store.
func (s *Store) Range(ctx context.Context, from, to int64, f audit.Filter) ([]audit.Record, error) {
	if to <= 0 {
		to = math.MaxInt64
	}
	limit := f.Limit
	if limit <= 0 || limit > audit.MaxPage {
		limit = audit.MaxPage
	}
	q := gen.New(s.db)
	var rows []gen.AuditRecord
	var err error
	if f.Since.IsZero() && f.Until.IsZero() && f.Type == "" && f.Actor == "" && f.Incident == "" {
		rows, err = q.AuditRecordPage(ctx, gen.AuditRecordPageParams{FromSeq: from, ToSeq: to, Lim: int64(limit)})
	} else {
		p := gen.AuditRecordRangeParams{FromSeq: from, ToSeq: to, Type: f.Type, Actor: f.Actor, Incident: f.Incident, Lim: int64(limit)}
		if !f.Since.IsZero() {
			p.Since = db.FormatTime(f.Since)
		}
		if !f.Until.IsZero() {
			p.Until = db.FormatTime(f.Until)
		}
		rows, err = q.AuditRecordRange(ctx, p)
	}
	if err != nil {
		return nil, fmt.Errorf("audit range: %w", err)
	}
	out := make([]audit.Record, len(rows))
	for i, r := range rows {
		if out[i], err = record(r); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Head implements audit.Store.
func (s *Store) Head(ctx context.Context) (audit.Head, error) {
	h, err := gen.New(s.db).AuditHeadGet(ctx)
	if err != nil {
		return audit.Head{}, fmt.Errorf("audit head: %w", err)
	}
	return audit.Head{Seq: h.Seq, Hash: h.Hash, AnchorSeq: h.AnchorSeq, AnchorHash: h.AnchorHash}, nil
}

// CheckpointAdd implements audit.Store.
func (s *Store) CheckpointAdd(ctx context.Context, c audit.Checkpoint) error {
	_, err := gen.New(s.db).AuditCheckpointInsert(ctx, gen.AuditCheckpointInsertParams{
		Seq: c.Seq, Hash: c.Hash, SignedAt: db.FormatTime(c.SignedAt), PublicKey: c.PublicKey, Signature: c.Signature,
	})
	if err != nil {
		return fmt.Errorf("audit checkpoint %d: %w", c.Seq, err)
	}
	return nil
}

func checkpoint(c gen.AuditCheckpoint) (audit.Checkpoint, error) {
	at, err := db.ParseTime(c.SignedAt)
	if err != nil {
		return audit.Checkpoint{}, err
	}
	return audit.Checkpoint{Seq: c.Seq, Hash: c.Hash, SignedAt: at, PublicKey: c.PublicKey, Signature: c.Signature}, nil
}

// Checkpoints implements audit.Store.
func (s *Store) Checkpoints(ctx context.Context, from, to int64) ([]audit.Checkpoint, error) {
	if to <= 0 {
		to = math.MaxInt64
	}
	rows, err := gen.New(s.db).AuditCheckpointList(ctx, gen.AuditCheckpointListParams{FromSeq: from, ToSeq: to})
	if err != nil {
		return nil, fmt.Errorf("audit checkpoints: %w", err)
	}
	out := make([]audit.Checkpoint, len(rows))
	for i, r := range rows {
		if out[i], err = checkpoint(r); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// LatestCheckpoint implements audit.Store.
func (s *Store) LatestCheckpoint(ctx context.Context) (audit.Checkpoint, error) {
	c, err := gen.New(s.db).AuditCheckpointLatest(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return audit.Checkpoint{}, audit.ErrNotFound
	}
	if err != nil {
		return audit.Checkpoint{}, fmt.Errorf("audit latest checkpoint: %w", err)
	}
	return checkpoint(c)
}

// Archive implements audit.Store.
func (s *Store) Archive(ctx context.Context, c audit.Checkpoint) (int64, error) {
	var n int64
	err := db.InTx(ctx, s.db, func(tx *sql.Tx) error {
		q := gen.New(tx)
		head, err := q.AuditHeadGet(ctx)
		if err != nil {
			return fmt.Errorf("audit head: %w", err)
		}
		if c.Seq <= head.AnchorSeq {
			return nil // archived already
		}
		cps, err := q.AuditCheckpointList(ctx, gen.AuditCheckpointListParams{FromSeq: c.Seq, ToSeq: c.Seq})
		if err != nil {
			return fmt.Errorf("audit checkpoint %d: %w", c.Seq, err)
		}
		if len(cps) == 0 || cps[0].Hash != c.Hash {
			return fmt.Errorf("archive at %d: %w", c.Seq, audit.ErrNoCheckpoint)
		}
		if n, err = q.AuditRecordArchive(ctx, c.Seq); err != nil {
			return fmt.Errorf("audit archive: %w", err)
		}
		return q.AuditAnchorSet(ctx, gen.AuditAnchorSetParams{Seq: c.Seq, Hash: c.Hash})
	})
	return n, err
}
