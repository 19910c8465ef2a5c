// Package sqlite is the SQLite adapter of the vuln service's store. It maps
// the sqlc-generated code in gen/ to the domain types of package vuln;
// generated types never leave this package.
package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/db"
	outboxsqlite "github.com/firebreak-dev/firebreak/internal/outbox/sqlite"
	"github.com/firebreak-dev/firebreak/internal/timer"
	timersqlite "github.com/firebreak-dev/firebreak/internal/timer/sqlite"
	"github.com/firebreak-dev/firebreak/services/vuln"
	"github.com/firebreak-dev/firebreak/services/vuln/policy"
	"github.com/firebreak-dev/firebreak/services/vuln/store/sqlite/gen"
)

// Store is the vuln store on a SQLite database migrated with the "outbox",
// "timer" and "vuln" sets.
type Store struct {
	db  *sql.DB
	now func() time.Time
}

var _ vuln.Store = (*Store)(nil)

// New returns the store of d. now stamps outbox rows.
func New(d *sql.DB, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{db: d, now: now}
}

// InTx runs fn in an IMMEDIATE transaction, re-running it on ErrConflict
// up to 5 times in all.
func (s *Store) InTx(ctx context.Context, fn func(tx vuln.Tx) error) error {
	return db.Retry(ctx, func(err error) bool { return errors.Is(err, vuln.ErrConflict) }, func() error {
		return db.InTx(ctx, s.db, func(sqlTx *sql.Tx) error { return fn(s.tx(sqlTx)) })
	})
}

func (s *Store) tx(sqlTx *sql.Tx) *Tx { return &Tx{tx: sqlTx, q: gen.New(sqlTx), now: s.now} }

// FireTimer implements vuln.Store.
func (s *Store) FireTimer(ctx context.Context, t timer.Timer, fn func(tx vuln.Tx) error) error {
	return timersqlite.New(s.db).Fire(ctx, t, func(sqlTx *sql.Tx) error { return fn(s.tx(sqlTx)) })
}

// Timers implements vuln.Store.
func (s *Store) Timers() timer.Source { return timersqlite.New(s.db) }

// ProductList implements vuln.Store.
func (s *Store) ProductList(ctx context.Context) ([]vuln.Product, error) {
	rows, err := gen.New(s.db).ProductList(ctx)
	if err != nil {
		return nil, fmt.Errorf("list products: %w", err)
	}
	out := make([]vuln.Product, 0, len(rows))
	for _, r := range rows {
		out = append(out, vuln.Product{Name: r.Name, Hosting: policy.Hosting(r.Hosting), Service: r.Service})
	}
	return out, nil
}

// VulnGet implements vuln.Store.
func (s *Store) VulnGet(ctx context.Context, id string, number int64) (vuln.Vuln, error) {
	return vulnGet(ctx, gen.New(s.db), id, number)
}

// VulnList implements vuln.Store.
func (s *Store) VulnList(ctx context.Context, f vuln.Filter) ([]vuln.Vuln, error) {
	rows, err := gen.New(s.db).VulnList(ctx, gen.VulnListParams{Status: string(f.Status), Severity: f.Severity, Product: f.Product, After: f.After, Lim: int64(f.Limit)})
	if err != nil {
		return nil, fmt.Errorf("list vulnerabilities: %w", err)
	}
	out := make([]vuln.Vuln, 0, len(rows))
	for _, r := range rows {
		v, err := decodeVuln(r.Doc, r.Version)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// VulnListOpen implements vuln.Store.
func (s *Store) VulnListOpen(ctx context.Context) ([]vuln.Vuln, error) {
	rows, err := gen.New(s.db).VulnListOpen(ctx)
	if err != nil {
		return nil, fmt.Errorf("list open vulnerabilities: %w", err)
	}
	out := make([]vuln.Vuln, 0, len(rows))
	for _, r := range rows {
		v, err := decodeVuln(r.Doc, r.Version)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// VulnListRemediated implements vuln.Store.
func (s *Store) VulnListRemediated(ctx context.Context) ([]vuln.Vuln, error) {
	rows, err := gen.New(s.db).VulnListRemediated(ctx)
	if err != nil {
		return nil, fmt.Errorf("list remediated vulnerabilities: %w", err)
	}
	out := make([]vuln.Vuln, 0, len(rows))
	for _, r := range rows {
		v, err := decodeVuln(r.Doc, r.Version)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// HistoryList implements vuln.Store.
func (s *Store) HistoryList(ctx context.Context, vulnID string) ([]vuln.History, error) {
	rows, err := gen.New(s.db).HistoryList(ctx, vulnID)
	if err != nil {
		return nil, fmt.Errorf("list history: %w", err)
	}
	out := make([]vuln.History, 0, len(rows))
	for _, r := range rows {
		var h vuln.History
		if err := json.Unmarshal([]byte(r), &h); err != nil {
			return nil, fmt.Errorf("decode history: %w", err)
		}
		out = append(out, h)
	}
	return out, nil
}

// HistoryCount implements vuln.Store.
func (s *Store) HistoryCount(ctx context.Context, kind vuln.HistoryKind, from, to time.Time) (map[string]int64, error) {
	rows, err := gen.New(s.db).HistoryCountKind(ctx, gen.HistoryCountKindParams{Kind: string(kind), FromAt: db.FormatTime(from), ToAt: db.FormatTime(to)})
	if err != nil {
		return nil, fmt.Errorf("count history: %w", err)
	}
	out := map[string]int64{}
	for _, r := range rows {
		out[r.Severity] = r.N
	}
	return out, nil
}

// NoticeList implements vuln.Store.
func (s *Store) NoticeList(ctx context.Context, vulnID string) ([]vuln.Notice, error) {
	rows, err := gen.New(s.db).NoticeListByVuln(ctx, vulnID)
	if err != nil {
		return nil, fmt.Errorf("list notices: %w", err)
	}
	out := make([]vuln.Notice, 0, len(rows))
	for _, r := range rows {
		n, err := decodeNotice(r.Doc, r.Version)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

// NoticeGet implements vuln.Store.
func (s *Store) NoticeGet(ctx context.Context, id string) (vuln.Notice, error) {
	return noticeGet(ctx, gen.New(s.db), id)
}

// AdvisoryList implements vuln.Store.
func (s *Store) AdvisoryList(ctx context.Context, limit int) ([]vuln.Advisory, error) {
	rows, err := gen.New(s.db).AdvisoryList(ctx, int64(limit))
	if err != nil {
		return nil, fmt.Errorf("list advisories: %w", err)
	}
	out := make([]vuln.Advisory, 0, len(rows))
	for _, r := range rows {
		n, err := decodeNotice(r.Notice, 0)
		if err != nil {
			return nil, err
		}
		v, err := decodeVuln(r.Vuln, 0)
		if err != nil {
			return nil, err
		}
		out = append(out, vuln.AdvisoryOf(n, v))
	}
	return out, nil
}

// OutboxCount returns the number of unpublished outbox rows, for tests.
func (s *Store) OutboxCount(ctx context.Context) (int64, error) {
	return outboxsqlite.New(s.db).Count(ctx)
}

// Tx is the store inside one transaction.
type Tx struct {
	tx  *sql.Tx
	q   *gen.Queries
	now func() time.Time
}

var _ vuln.Tx = (*Tx)(nil)

// Emit implements vuln.Tx.
func (t *Tx) Emit(ctx context.Context, envs ...events.Envelope) error {
	return outboxsqlite.Enqueue(ctx, t.tx, t.now(), envs...)
}

// ScheduleTimer implements vuln.Tx.
func (t *Tx) ScheduleTimer(ctx context.Context, tm timer.Timer) error {
	return timersqlite.Schedule(ctx, t.tx, tm)
}

// CancelTimer implements vuln.Tx.
func (t *Tx) CancelTimer(ctx context.Context, kind, key string) (bool, error) {
	return timersqlite.Cancel(ctx, t.tx, kind, key)
}

// ProductPut implements vuln.Tx.
func (t *Tx) ProductPut(ctx context.Context, p vuln.Product) error {
	if err := t.q.ProductPut(ctx, gen.ProductPutParams{Name: p.Name, Hosting: string(p.Hosting), Service: p.Service}); err != nil {
		return fmt.Errorf("put product %s: %w", p.Name, err)
	}
	return nil
}

// ProductGet implements vuln.Tx.
func (t *Tx) ProductGet(ctx context.Context, name string) (vuln.Product, error) {
	r, err := t.q.ProductGet(ctx, name)
	if errors.Is(err, sql.ErrNoRows) {
		return vuln.Product{}, fmt.Errorf("product %q: %w", name, vuln.ErrNotFound)
	}
	if err != nil {
		return vuln.Product{}, fmt.Errorf("get product %s: %w", name, err)
	}
	return vuln.Product{Name: r.Name, Hosting: policy.Hosting(r.Hosting), Service: r.Service}, nil
}

// VulnNextNumber implements vuln.Tx.
func (t *Tx) VulnNextNumber(ctx context.Context) (int64, error) {
	n, err := t.q.VulnNextNumber(ctx)
	if err != nil {
		return 0, fmt.Errorf("next vulnerability number: %w", err)
	}
	return n, nil
}

// VulnInsert implements vuln.Tx.
func (t *Tx) VulnInsert(ctx context.Context, v vuln.Vuln) error {
	v.Version = 1
	doc, err := json.Marshal(v)
	if err != nil {
		return err
	}
	err = t.q.VulnInsert(ctx, gen.VulnInsertParams{
		ID: v.ID, Number: v.Number, Product: v.Product, Component: v.Component, AdvisoryID: v.AdvisoryID,
		Status: string(v.Status), Severity: string(v.Severity), Disclosable: b2i(v.Disclosable()), Version: 1,
		CreatedAt: db.FormatTime(v.CreatedAt), UpdatedAt: db.FormatTime(v.UpdatedAt), Doc: string(doc),
	})
	if err != nil {
		return fmt.Errorf("insert %s: %w", v.Key(), err)
	}
	return nil
}

// VulnUpdate implements vuln.Tx.
func (t *Tx) VulnUpdate(ctx context.Context, v vuln.Vuln) (vuln.Vuln, error) {
	old := v.Version
	v.Version++
	doc, err := json.Marshal(v)
	if err != nil {
		return vuln.Vuln{}, err
	}
	n, err := t.q.VulnUpdate(ctx, gen.VulnUpdateParams{Status: string(v.Status), Severity: string(v.Severity),
		Disclosable: b2i(v.Disclosable()), UpdatedAt: db.FormatTime(v.UpdatedAt), Doc: string(doc), ID: v.ID, Version: old})
	if err != nil {
		return vuln.Vuln{}, fmt.Errorf("update %s: %w", v.Key(), err)
	}
	if n == 0 {
		return vuln.Vuln{}, fmt.Errorf("%s is no longer at version %d: %w", v.Key(), old, vuln.ErrConflict)
	}
	return v, nil
}

// VulnGet implements vuln.Tx.
func (t *Tx) VulnGet(ctx context.Context, id string, number int64) (vuln.Vuln, error) {
	return vulnGet(ctx, t.q, id, number)
}

// VulnListByProduct implements vuln.Tx.
func (t *Tx) VulnListByProduct(ctx context.Context, product string) ([]vuln.Vuln, error) {
	rows, err := t.q.VulnListByProduct(ctx, product)
	if err != nil {
		return nil, fmt.Errorf("list vulnerabilities of %s: %w", product, err)
	}
	out := make([]vuln.Vuln, 0, len(rows))
	for _, r := range rows {
		v, err := decodeVuln(r.Doc, r.Version)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// HistoryAdd implements vuln.Tx.
func (t *Tx) HistoryAdd(ctx context.Context, h vuln.History) error {
	doc, err := json.Marshal(h)
	if err != nil {
		return err
	}
	if err := t.q.HistoryAdd(ctx, gen.HistoryAddParams{VulnID: h.VulnID, Kind: string(h.Kind), At: db.FormatTime(h.At),
		Severity: string(h.Severity), Doc: string(doc)}); err != nil {
		return fmt.Errorf("add history: %w", err)
	}
	return nil
}

// NoticeInsert implements vuln.Tx.
func (t *Tx) NoticeInsert(ctx context.Context, n vuln.Notice) error {
	n.Version = 1
	doc, err := json.Marshal(n)
	if err != nil {
		return err
	}
	if err := t.q.NoticeInsert(ctx, gen.NoticeInsertParams{ID: n.ID, VulnID: n.VulnID, Status: string(n.Status),
		PublishedAt: optTime(n.PublishedAt), Version: 1, CreatedAt: db.FormatTime(n.CreatedAt), Doc: string(doc)}); err != nil {
		return fmt.Errorf("insert notice: %w", err)
	}
	return nil
}

// NoticeUpdate implements vuln.Tx.
func (t *Tx) NoticeUpdate(ctx context.Context, n vuln.Notice) (vuln.Notice, error) {
	old := n.Version
	n.Version++
	doc, err := json.Marshal(n)
	if err != nil {
		return vuln.Notice{}, err
	}
	c, err := t.q.NoticeUpdate(ctx, gen.NoticeUpdateParams{Status: string(n.Status), PublishedAt: optTime(n.PublishedAt),
		Doc: string(doc), ID: n.ID, Version: old})
	if err != nil {
		return vuln.Notice{}, fmt.Errorf("update notice %s: %w", n.ID, err)
	}
	if c == 0 {
		return vuln.Notice{}, fmt.Errorf("notice %s is no longer at version %d: %w", n.ID, old, vuln.ErrConflict)
	}
	return n, nil
}

// NoticeGet implements vuln.Tx.
func (t *Tx) NoticeGet(ctx context.Context, id string) (vuln.Notice, error) {
	return noticeGet(ctx, t.q, id)
}

func vulnGet(ctx context.Context, q *gen.Queries, id string, number int64) (vuln.Vuln, error) {
	var (
		doc string
		ver int64
		err error
	)
	if number > 0 {
		var r gen.VulnGetByNumberRow
		r, err = q.VulnGetByNumber(ctx, number)
		doc, ver = r.Doc, r.Version
		id = fmt.Sprintf("VULN-%d", number)
	} else {
		var r gen.VulnGetByIDRow
		r, err = q.VulnGetByID(ctx, id)
		doc, ver = r.Doc, r.Version
	}
	if errors.Is(err, sql.ErrNoRows) {
		return vuln.Vuln{}, fmt.Errorf("vulnerability %s: %w", id, vuln.ErrNotFound)
	}
	if err != nil {
		return vuln.Vuln{}, fmt.Errorf("get vulnerability %s: %w", id, err)
	}
	return decodeVuln(doc, ver)
}

func noticeGet(ctx context.Context, q *gen.Queries, id string) (vuln.Notice, error) {
	r, err := q.NoticeGet(ctx, id)
	if errors.Is(err, sql.ErrNoRows) {
		return vuln.Notice{}, fmt.Errorf("notice %s: %w", id, vuln.ErrNotFound)
	}
	if err != nil {
		return vuln.Notice{}, fmt.Errorf("get notice %s: %w", id, err)
	}
	return decodeNotice(r.Doc, r.Version)
}

func decodeVuln(doc string, version int64) (vuln.Vuln, error) {
	var v vuln.Vuln
	if err := json.Unmarshal([]byte(doc), &v); err != nil {
		return vuln.Vuln{}, fmt.Errorf("decode vulnerability: %w", err)
	}
	if version > 0 {
		v.Version = version
	}
	return v, nil
}

func decodeNotice(doc string, version int64) (vuln.Notice, error) {
	var n vuln.Notice
	if err := json.Unmarshal([]byte(doc), &n); err != nil {
		return vuln.Notice{}, fmt.Errorf("decode notice: %w", err)
	}
	if version > 0 {
		n.Version = version
	}
	return n, nil
}

func optTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return db.FormatTime(t)
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
