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
	"strings"
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
	// db.InTx gives the database's writers of this process one turn each
	// (db.WriteLock), so the commands, events and alerts consumers queue
	// here instead of sleeping in SQLite's busy handler; other processes
	// serialize on the write lock itself.
	var out []audit.Record
	err = db.InTx(ctx, s.db, func(tx *sql.Tx) error {
		out, err = appendChunked(ctx, tx, prepared.WithTx(tx), consumer, at, recs)
		return err
	})
	if errors.Is(err, errLoggedElsewhere) {
		// Rolled back: append one record at a time, skipping what is
		// already in the log.
		err = db.InTx(ctx, s.db, func(tx *sql.Tx) error {
			out, err = appendEach(ctx, prepared.WithTx(tx), consumer, at, recs)
			return err
		})
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// appendEach appends recs one statement at a time: a record whose message
// is in consumer's inbox, or already in the log, is skipped.
func appendEach(ctx context.Context, q *gen.Queries, consumer, at string, recs []audit.Record) ([]audit.Record, error) {
	out := make([]audit.Record, 0, len(recs))
	head, err := q.AuditHeadGet(ctx)
	if err != nil {
		return nil, fmt.Errorf("audit head: %w", err)
	}
	seq, prev := head.Seq, head.Hash
	for _, r := range recs {
		fresh, err := q.AuditInboxInsert(ctx, gen.AuditInboxInsertParams{Consumer: consumer, MsgID: r.MsgID, ProcessedAt: at})
		if err != nil {
			return nil, fmt.Errorf("inbox insert: %w", err)
		}
		if fresh == 0 {
			continue
		}
		r.Seq, r.PrevHash = seq+1, prev
		r.Hash = audit.Hash(prev, r.Entry)
		n, err := q.AuditRecordInsert(ctx, recordParams(r, at))
		if err != nil {
			return nil, fmt.Errorf("audit append %s: %w", r.MsgID, err)
		}
		if n == 0 {
			continue // another consumer logged the same message
		}
		seq, prev = r.Seq, r.Hash
		out = append(out, r)
	}
	if len(out) == 0 {
		return out, nil
	}
	return out, q.AuditHeadSet(ctx, gen.AuditHeadSetParams{Seq: seq, Hash: prev})
}

func recordParams(r audit.Record, at string) gen.AuditRecordInsertParams {
	return gen.AuditRecordInsertParams{
		Seq: r.Seq, RecordedAt: at, MsgID: r.MsgID, Type: r.Type, Subject: r.Subject,
		ActorKind: r.ActorKind, ActorID: r.ActorID, IncidentID: r.IncidentID, Entry: r.Entry, PrevHash: r.PrevHash, Hash: r.Hash,
	}
}

// chunkRows is how many rows one multi-row INSERT of appendChunked
// writes (11 parameters each, well under SQLite's limit of 32 766).
const chunkRows = 64

// The multi-row statements of appendChunked, each the sqlc query of the
// same name with chunkRows rows of values: sqlc has no statement with a
// variable number of rows. They run through the connections' statement
// cache (internal/db), so each is compiled once per connection.
var (
	inboxInsertChunk = "INSERT INTO fb_inbox (consumer, msg_id, processed_at) VALUES " +
		rowsOf("(?, ?, ?)", chunkRows) + " ON CONFLICT (consumer, msg_id) DO NOTHING RETURNING msg_id"
	recordInsertChunk = "INSERT INTO audit_record (seq, recorded_at, msg_id, type, subject, actor_kind, actor_id, incident_id, entry, prev_hash, hash) VALUES " +
		rowsOf("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", chunkRows) + " ON CONFLICT (msg_id) DO NOTHING"
)

func rowsOf(row string, n int) string {
	return strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
}

// errLoggedElsewhere: a message of the batch is in the log already,
// though not in this consumer's inbox (another inbox name logged it);
// appendChunked's chain would skip it, so the batch is redone with
// appendEach.
var errLoggedElsewhere = errors.New("audit: message already in the log")

// appendChunked is appendEach with chunkRows rows per statement, the
// remainder one at a time: every inbox row first (RETURNING the ids that
// were new), then the chain over the new ones, then their records. It
// writes what appendEach writes, in the same order of seq, but with
// some 60 times fewer statements. A record insert that skips a row
// returns errLoggedElsewhere, for the caller to roll back.
func appendChunked(ctx context.Context, tx *sql.Tx, q *gen.Queries, consumer, at string, recs []audit.Record) ([]audit.Record, error) {
	head, err := q.AuditHeadGet(ctx)
	if err != nil {
		return nil, fmt.Errorf("audit head: %w", err)
	}
	// Inbox: new holds each message id whose inbox row this call made.
	full := len(recs) / chunkRows * chunkRows
	isNew := make(map[string]bool, len(recs))
	args := make([]any, 0, 11*chunkRows)
	for lo := 0; lo < full; lo += chunkRows {
		args = args[:0]
		for _, r := range recs[lo : lo+chunkRows] {
			args = append(args, consumer, r.MsgID, at)
		}
		rows, err := tx.QueryContext(ctx, inboxInsertChunk, args...)
		if err != nil {
			return nil, fmt.Errorf("inbox insert: %w", err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, fmt.Errorf("inbox insert: %w", err)
			}
			isNew[id] = true
		}
		if err := rows.Close(); err != nil {
			return nil, fmt.Errorf("inbox insert: %w", err)
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("inbox insert: %w", err)
		}
	}
	for _, r := range recs[full:] {
		n, err := q.AuditInboxInsert(ctx, gen.AuditInboxInsertParams{Consumer: consumer, MsgID: r.MsgID, ProcessedAt: at})
		if err != nil {
			return nil, fmt.Errorf("inbox insert: %w", err)
		}
		if n > 0 {
			isNew[r.MsgID] = true
		}
	}
	// The chain over the new messages, in order; a message twice in the
	// batch is logged at its first place only.
	out := make([]audit.Record, 0, len(isNew))
	seq, prev := head.Seq, head.Hash
	for _, r := range recs {
		if !isNew[r.MsgID] {
			continue
		}
		delete(isNew, r.MsgID)
		r.Seq, r.PrevHash = seq+1, prev
		r.Hash = audit.Hash(prev, r.Entry)
		seq, prev = r.Seq, r.Hash
		out = append(out, r)
	}
	if len(out) == 0 {
		return out, nil
	}
	full = len(out) / chunkRows * chunkRows
	for lo := 0; lo < full; lo += chunkRows {
		args = args[:0]
		for _, r := range out[lo : lo+chunkRows] {
			args = append(args, r.Seq, at, r.MsgID, r.Type, r.Subject, r.ActorKind, r.ActorID, r.IncidentID, r.Entry, r.PrevHash, r.Hash)
		}
		res, err := tx.ExecContext(ctx, recordInsertChunk, args...)
		if err != nil {
			return nil, fmt.Errorf("audit append: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n != chunkRows {
			return nil, fmt.Errorf("audit append: %d of %d rows (%v): %w", n, chunkRows, err, errLoggedElsewhere)
		}
	}
	for _, r := range out[full:] {
		n, err := q.AuditRecordInsert(ctx, recordParams(r, at))
		if err != nil {
			return nil, fmt.Errorf("audit append %s: %w", r.MsgID, err)
		}
		if n == 0 {
			return nil, fmt.Errorf("audit append %s: %w", r.MsgID, errLoggedElsewhere)
		}
	}
	return out, q.AuditHeadSet(ctx, gen.AuditHeadSetParams{Seq: seq, Hash: prev})
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
