package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/outbox"
)

// OutboxStore is the relay's view of a service's outbox table.
type OutboxStore interface {
	// Pending returns up to limit unpublished records, oldest first.
	Pending(ctx context.Context, limit int) ([]outbox.Record, error)
	// Delete removes published records; unknown seqs are ignored.
	Delete(ctx context.Context, seqs []int64) error
}

// RelayConfig tunes a Relay.
type RelayConfig struct {
	// Batch is how many records one round reads and publishes. Default 256.
	Batch int
	// Interval is how often the outbox is polled when nobody calls Notify.
	// Default 200ms.
	Interval time.Duration
	// AckTimeout bounds the wait for the server to acknowledge one batch.
	// Default 10s.
	AckTimeout time.Duration
	// MaxBackoff caps the wait after a failed round. Default 5s.
	MaxBackoff time.Duration
}

func (c *RelayConfig) setDefaults() {
	if c.Batch <= 0 {
		c.Batch = 256
	}
	if c.Interval <= 0 {
		c.Interval = 200 * time.Millisecond
	}
	if c.AckTimeout <= 0 {
		c.AckTimeout = 10 * time.Second
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 5 * time.Second
	}
}

// Relay publishes a service's transactional outbox. Each round reads a
// batch of pending records, publishes them all asynchronously with
// Nats-Msg-Id set to the record's message id, waits for the server's
// acknowledgements and deletes exactly the acknowledged records. A crash
// between publishing and deleting makes the next round publish those
// records again, which the server de-duplicates within DuplicateWindow (and
// consumers' inboxes after it). Nothing is deleted before it is stored.
type Relay struct {
	js     jetstream.JetStream
	store  OutboxStore
	logger *slog.Logger
	cfg    RelayConfig
	poke   chan struct{}
	// round serializes rounds, so Flush and Run never publish one batch twice at once.
	rounds sync.Mutex
}

// errNoAck is returned when an asynchronous publish got no acknowledgement in time.
var errNoAck = errors.New("no publish acknowledgement")

// NewRelay returns a relay of store's outbox to js.
func NewRelay(js jetstream.JetStream, store OutboxStore, logger *slog.Logger, cfg RelayConfig) *Relay {
	cfg.setDefaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Relay{js: js, store: store, logger: logger, cfg: cfg, poke: make(chan struct{}, 1)}
}

// Notify tells the relay that records were committed, so it publishes them
// now instead of at the next poll. It never blocks.
func (r *Relay) Notify() {
	select {
	case r.poke <- struct{}{}:
	default:
	}
}

// Run publishes the outbox until ctx is done, then returns nil. Failures are
// logged and retried with exponential backoff.
func (r *Relay) Run(ctx context.Context) error {
	tick := time.NewTicker(r.cfg.Interval)
	defer tick.Stop()
	backoff := time.Duration(0)
	for {
		err := r.Flush(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			backoff = min(max(2*backoff, r.cfg.Interval), r.cfg.MaxBackoff)
			r.logger.Warn("outbox relay round failed; retrying", "err", err, "backoff", backoff)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(backoff):
			}
			continue
		}
		backoff = 0
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		case <-r.poke:
		}
	}
}

// Flush publishes everything pending now and returns once it is published
// and deleted, or at the first failure.
func (r *Relay) Flush(ctx context.Context) error {
	for {
		n, err := r.round(ctx)
		if err != nil {
			return err
		}
		if n < r.cfg.Batch {
			return nil
		}
	}
}

// round publishes one batch and returns how many records it read.
func (r *Relay) round(ctx context.Context) (int, error) {
	r.rounds.Lock()
	defer r.rounds.Unlock()
	recs, err := r.store.Pending(ctx, r.cfg.Batch)
	if err != nil {
		return 0, fmt.Errorf("outbox relay: %w", err)
	}
	if len(recs) == 0 {
		return 0, nil
	}
	futures := make([]jetstream.PubAckFuture, len(recs))
	var errs []error
	for i, rec := range recs {
		f, err := r.js.PublishMsgAsync(recordMsg(rec), jetstream.WithMsgID(rec.MsgID))
		if err != nil {
			errs = append(errs, fmt.Errorf("publish %s: %w", rec.MsgID, err))
			continue
		}
		futures[i] = f
	}
	wait, cancel := context.WithTimeout(ctx, r.cfg.AckTimeout)
	defer cancel()
	acked := make([]int64, 0, len(recs))
	for i, f := range futures {
		if f == nil {
			continue
		}
		select {
		case <-f.Ok():
			acked = append(acked, recs[i].Seq)
		case err := <-f.Err():
			errs = append(errs, fmt.Errorf("publish %s: %w", recs[i].MsgID, err))
		case <-wait.Done():
			errs = append(errs, fmt.Errorf("publish %s: %w: %w", recs[i].MsgID, errNoAck, wait.Err()))
		}
	}
	if len(acked) > 0 {
		// Deleting needs to happen even while shutting down: what was
		// acknowledged should not be published again.
		dctx, dcancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.AckTimeout)
		defer dcancel()
		if err := r.store.Delete(dctx, acked); err != nil {
			errs = append(errs, fmt.Errorf("delete %d published records: %w", len(acked), err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return len(recs), fmt.Errorf("outbox relay: %w", err)
	}
	return len(recs), nil
}

// recordMsg is the NATS message of an outbox record, with the firebreak
// headers when the payload is an envelope.
func recordMsg(rec outbox.Record) *nats.Msg {
	m := &nats.Msg{Subject: rec.Subject, Data: rec.Payload}
	if env, err := events.Decode(rec.Payload); err == nil {
		m.Header = envelopeHeader(env)
	} else {
		m.Header = nats.Header{}
	}
	m.Header.Set(HeaderMsgID, rec.MsgID)
	return m
}
