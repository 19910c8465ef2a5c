package app

import (
	"context"
	"log/slog"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/firebreak-dev/firebreak/internal/bus"
	"github.com/firebreak-dev/firebreak/internal/integration"
	"github.com/firebreak-dev/firebreak/services/intake"
	"github.com/firebreak-dev/firebreak/services/intake/source"
)

// wireIntake builds the intake service: the generic alert API (with
// CloudEvents), the integration keys and their API, the PagerDuty,
// Alertmanager, Grafana and generic integration endpoints, and the NATS
// ingest consumer.
func (a *App) wireIntake(ctx context.Context, log *slog.Logger) error {
	// Intake's own JetStream context allows many asynchronous publishes in
	// flight (batches from many clients at once).
	ijs, err := jetstream.New(a.nc, jetstream.WithPublishAsyncMaxPending(1<<16))
	if err != nil {
		return err
	}
	pub := bus.NewPublisher(ijs, log)
	svc, err := intake.New(pub, log, intake.Config{Now: a.cfg.Now, Decoder: source.CloudEvents})
	if err != nil {
		return err
	}
	svc.Routes(a.http, log)

	kv, err := integration.EnsureBucket(ctx, a.js, a.cfg.StreamReplicas)
	if err != nil {
		return err
	}
	store := integration.NewStore(kv, a.cfg.Now)
	ilog := log.With("component", "integration")
	keys := integration.NewKeys(store, ilog)
	a.runners = append(a.runners, keys.Run)
	integration.NewAPI(store, keys, pub, ilog).Routes(a.http)

	cfg := a.cfg.Sources
	if cfg.AckWait == 0 {
		cfg.AckWait = a.cfg.AckWait
	}
	src := source.New(svc, keys, log, cfg)
	src.Routes(a.http)
	return src.Register(a.router)
}
