package vuln

import (
	"context"
	"time"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/timer"
)

// Store is what the vuln service needs from its database (migration sets
// "outbox", "timer" and "vuln"). The SQLite and PostgreSQL adapters in
// store/ implement it; storetest/ is the contract both pass.
type Store interface {
	// InTx runs fn in one transaction: everything fn does through tx,
	// outbox and timer writes included, commits or rolls back together.
	// InTx re-runs fn on a fresh transaction when it fails with
	// ErrConflict or the engine reports a serialization failure, a deadlock
	// or a unique-key race; fn must be safe to re-run.
	InTx(ctx context.Context, fn func(tx Tx) error) error
	// FireTimer runs fn for a claimed timer in one transaction that also
	// deletes the timer. It returns timer.ErrGone (and does not call fn)
	// when the timer was cancelled, replaced or claimed by another runner.
	FireTimer(ctx context.Context, t timer.Timer, fn func(tx Tx) error) error
	// Timers is the source a timer.Runner claims due timers from.
	Timers() timer.Source

	// ProductList returns every product by name.
	ProductList(ctx context.Context) ([]Product, error)
	// VulnGet returns a vulnerability by id or by number (ParseRef).
	// Errors: ErrNotFound.
	VulnGet(ctx context.Context, id string, number int64) (Vuln, error)
	// VulnList returns up to f.Limit vulnerabilities numbered above
	// f.After matching f, by number.
	VulnList(ctx context.Context, f Filter) ([]Vuln, error)
	// VulnListOpen returns every vulnerability whose clock runs (ClockRuns).
	VulnListOpen(ctx context.Context) ([]Vuln, error)
	// VulnListRemediated returns every released, communicated or closed
	// vulnerability.
	VulnListRemediated(ctx context.Context) ([]Vuln, error)
	// HistoryList returns a vulnerability's history, oldest first.
	HistoryList(ctx context.Context, vulnID string) ([]History, error)
	// HistoryCount counts history entries of kind in [from, to) by the
	// severity recorded with them.
	HistoryCount(ctx context.Context, kind HistoryKind, from, to time.Time) (map[string]int64, error)
	// NoticeList returns the notices of a vulnerability, oldest first.
	NoticeList(ctx context.Context, vulnID string) ([]Notice, error)
	// NoticeGet returns a notice. Errors: ErrNotFound.
	NoticeGet(ctx context.Context, id string) (Notice, error)
	// AdvisoryList returns up to limit published notices of disclosable
	// vulnerabilities (public, not embargoed), newest first, as advisories.
	AdvisoryList(ctx context.Context, limit int) ([]Advisory, error)
}

// Filter selects vulnerabilities for VulnList.
type Filter struct {
	Status   Status
	Severity string
	Product  string
	After    int64
	Limit    int
}

// Tx is the transactional view of the store handed to Store.InTx's fn.
type Tx interface {
	// Emit writes envelopes to the outbox.
	Emit(ctx context.Context, envs ...events.Envelope) error
	// ScheduleTimer schedules t, replacing a timer of the same kind and key.
	ScheduleTimer(ctx context.Context, t timer.Timer) error
	// CancelTimer cancels the timer of kind and key.
	CancelTimer(ctx context.Context, kind, key string) (bool, error)

	// ProductPut creates or replaces a product.
	ProductPut(ctx context.Context, p Product) error
	// ProductGet returns a product. Errors: ErrNotFound.
	ProductGet(ctx context.Context, name string) (Product, error)

	// VulnNextNumber returns the number after the highest one taken.
	VulnNextNumber(ctx context.Context) (int64, error)
	// VulnInsert stores a new vulnerability (Version 1). A second record
	// with the same non-empty (Product, Component, AdvisoryID) fails.
	VulnInsert(ctx context.Context, v Vuln) error
	// VulnUpdate stores v over the record at v.Version and returns it with
	// Version+1. Errors: ErrConflict when the record changed meanwhile.
	VulnUpdate(ctx context.Context, v Vuln) (Vuln, error)
	// VulnGet is Store.VulnGet inside the transaction.
	VulnGet(ctx context.Context, id string, number int64) (Vuln, error)
	// VulnListByProduct returns every vulnerability of a product.
	VulnListByProduct(ctx context.Context, product string) ([]Vuln, error)

	// HistoryAdd appends to a vulnerability's history.
	HistoryAdd(ctx context.Context, h History) error

	// NoticeInsert stores a new notice (Version 1).
	NoticeInsert(ctx context.Context, n Notice) error
	// NoticeUpdate stores n over the notice at n.Version and returns it
	// with Version+1. Errors: ErrConflict.
	NoticeUpdate(ctx context.Context, n Notice) (Notice, error)
	// NoticeGet is Store.NoticeGet inside the transaction.
	NoticeGet(ctx context.Context, id string) (Notice, error)
}
