package slack

import (
	"context"
	"sync"
	"time"
)

// txQueue gathers the writes that arrive while a transaction is being
// written, for the next one: a burst of clicks or of incident events costs
// a few transactions instead of one each (SQLite has one writer; fewer
// transactions, not more parallel ones, is what helps).
type txQueue struct {
	mu      sync.Mutex
	pending []queuedTx
	writing bool
}

type queuedTx struct {
	ctx    context.Context
	fn     func(Tx) error
	outbox bool
	done   chan error
}

// sharedTxTimeout bounds writing a transaction shared by several callers.
const sharedTxTimeout = 10 * time.Second

// inSharedTx runs fn in a transaction, together with the fns of other
// callers waiting meanwhile, and returns once that transaction committed
// or failed. With no transaction being written, the caller writes one;
// otherwise fn waits for the next one, written as soon as the current one
// is done. Should a shared transaction fail, each fn is run again alone,
// so one failing fn fails only its own caller: fn must be safe to run
// again (it is, like any Store.InTx function, rolled back on failure).
// outbox says fn writes to the outbox (OnCommit is called after it
// committed).
func (s *Service) inSharedTx(ctx context.Context, outbox bool, fn func(Tx) error) error {
	q := queuedTx{ctx: ctx, fn: fn, outbox: outbox, done: make(chan error, 1)}
	t := &s.txs
	t.mu.Lock()
	t.pending = append(t.pending, q)
	if !t.writing {
		t.writing = true
		t.mu.Unlock()
		s.writePending()
	} else {
		t.mu.Unlock()
	}
	return <-q.done
}

// writePending writes the pending fns; fns queued while it wrote are
// written by a goroutine of their own, so the caller is not held up by a
// burst of later ones.
func (s *Service) writePending() {
	t := &s.txs
	t.mu.Lock()
	batch := t.pending
	t.pending = nil
	t.mu.Unlock()
	s.writeShared(batch)
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.pending) == 0 {
		t.writing = false
		return
	}
	go s.writePending()
}

// writeShared commits batch and tells each caller the outcome.
func (s *Service) writeShared(batch []queuedTx) {
	write := func(ctx context.Context, qs []queuedTx) error {
		err := s.store.InTx(ctx, func(tx Tx) error {
			for _, q := range qs {
				if err := q.fn(tx); err != nil {
					return err
				}
			}
			return nil
		})
		if err == nil {
			for _, q := range qs {
				if q.outbox {
					s.cfg.OnCommit()
					break
				}
			}
		}
		return err
	}
	if len(batch) > 1 {
		// Not cut short by one caller's context: the others wait for it.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(batch[0].ctx), sharedTxTimeout)
		err := write(ctx, batch)
		cancel()
		if err == nil {
			for _, q := range batch {
				q.done <- nil
			}
			return
		}
		s.log.Warn("slack: shared transaction failed; writing each part alone", "parts", len(batch), "err", err)
	}
	for _, q := range batch {
		q.done <- write(q.ctx, []queuedTx{q})
	}
}
