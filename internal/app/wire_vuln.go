package app

import (
	"context"
	"log/slog"

	"github.com/firebreak-dev/firebreak/internal/bus"
	outboxpg "github.com/firebreak-dev/firebreak/internal/outbox/postgres"
	outboxsqlite "github.com/firebreak-dev/firebreak/internal/outbox/sqlite"
	"github.com/firebreak-dev/firebreak/internal/timer"
	"github.com/firebreak-dev/firebreak/services/vuln"
	vulnpg "github.com/firebreak-dev/firebreak/services/vuln/store/postgres"
	vulnsqlite "github.com/firebreak-dev/firebreak/services/vuln/store/sqlite"
)

// wireVuln builds the vuln service: its store, the relay of its outbox,
// its routes (the public disclosure, security.txt and advisory endpoints
// among them) and the runner of its SLA timers. It consumes nothing: a
// breached deadline or an exploited vulnerability is an incident.declare
// command on the bus, which the incident service handles.
func (a *App) wireVuln(ctx context.Context, log *slog.Logger) error {
	var (
		store  vuln.Store
		outbox bus.OutboxStore
	)
	if a.cfg.Postgres != "" {
		pool, err := a.openPostgres(ctx, vuln.Name)
		if err != nil {
			return err
		}
		store, outbox = vulnpg.New(pool, a.cfg.Now), outboxpg.New(pool)
	} else {
		d, err := a.openSQLite(ctx, vuln.Name)
		if err != nil {
			return err
		}
		store, outbox = vulnsqlite.New(d, a.cfg.Now), outboxsqlite.New(d)
	}
	relay := bus.NewRelay(a.js, outbox, log, bus.RelayConfig{})
	a.relays = append(a.relays, relay)
	var runner *timer.Runner // set below, before anything runs
	cfg := a.cfg.Vuln
	cfg.Now, cfg.OnCommit, cfg.OnTimer = a.cfg.Now, relay.Notify, func() { runner.Notify() }
	svc, err := vuln.New(store, log, cfg)
	if err != nil {
		return err
	}
	runner, err = timer.New(store.Timers(), svc.HandleTimer, log.With("component", "timers"), timer.Config{Now: a.cfg.Now})
	if err != nil {
		return err
	}
	a.timers = append(a.timers, runner)
	svc.Routes(a.http, log)
	a.Vuln = svc
	return nil
}
