package bus

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// WatchKV follows every key of a JetStream key-value bucket until ctx ends,
// handing each update (put, delete or purge) to observe. synced is called
// once, when the watcher has delivered every value the bucket held when
// watching began. A watcher that stops early is started again after a pause
// that grows from 100 ms to 10 s; what restarted it is logged under name.
func WatchKV(ctx context.Context, kv jetstream.KeyValue, logger *slog.Logger, name string,
	observe func(jetstream.KeyValueEntry), synced func()) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := watchKVOnce(ctx, kv, observe, synced)
		if ctx.Err() != nil {
			return
		}
		logger.Warn(name+" watcher stopped; restarting", "err", err, "after", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

func watchKVOnce(ctx context.Context, kv jetstream.KeyValue, observe func(jetstream.KeyValueEntry), synced func()) error {
	w, err := kv.WatchAll(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case e, ok := <-w.Updates():
			if !ok {
				return errors.New("watcher closed")
			}
			if e == nil { // the initial values are all delivered
				synced()
				continue
			}
			observe(e)
		}
	}
}
