package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/firebreak-dev/firebreak/internal/bus"
	outboxpg "github.com/firebreak-dev/firebreak/internal/outbox/postgres"
	outboxsqlite "github.com/firebreak-dev/firebreak/internal/outbox/sqlite"
	"github.com/firebreak-dev/firebreak/internal/timer"
	"github.com/firebreak-dev/firebreak/services/postmortem"
	postmortempg "github.com/firebreak-dev/firebreak/services/postmortem/store/postgres"
	postmortemsqlite "github.com/firebreak-dev/firebreak/services/postmortem/store/sqlite"
)

// PostmortemConfig tunes the post-mortem service.
type PostmortemConfig struct {
	// TimeZone (IANA name) is the default zone of timelines and of the
	// night in on-call load: no event carries a person's own time zone.
	// Default UTC.
	TimeZone string
	// OverdueAfter is how long past its due date an open action item is
	// reported with action_item.overdue. Default 24h; negative: never.
	OverdueAfter time.Duration
	// PageOverdueAfter is how long past its due date an open action item
	// pages its owner (action_item.page_due; escalation pages the user by
	// their notification rules), once per due date. 0 or negative: never,
	// the default (FIREBREAK_POSTMORTEM_PAGE_OVERDUE_AFTER).
	PageOverdueAfter time.Duration
	// PublicURL is the server's public base URL, for links in the status
	// feed and in postmortem.published.
	PublicURL string
}

// wirePostmortem builds the post-mortem service: its store, the relay of
// its outbox, its consumers, its routes, its metrics and the runner of its
// action-item timers.
func (a *App) wirePostmortem(ctx context.Context, log *slog.Logger) error {
	loc := time.UTC
	if tz := a.cfg.Postmortem.TimeZone; tz != "" {
		l, err := time.LoadLocation(tz)
		if err != nil {
			return fmt.Errorf("postmortem time zone %q: %w", tz, err)
		}
		loc = l
	}
	var (
		store  postmortem.Store
		outbox bus.OutboxStore
	)
	if a.cfg.Postgres != "" {
		pool, err := a.openPostgres(ctx, postmortem.Name)
		if err != nil {
			return err
		}
		store, outbox = postmortempg.New(pool, a.cfg.Now), outboxpg.New(pool)
	} else {
		d, err := a.openSQLite(ctx, postmortem.Name)
		if err != nil {
			return err
		}
		store, outbox = postmortemsqlite.New(d, a.cfg.Now), outboxsqlite.New(d)
	}
	metrics, err := postmortem.NewMetrics(a.reg)
	if err != nil {
		return err
	}
	relay := bus.NewRelay(a.js, outbox, log, bus.RelayConfig{})
	a.relays = append(a.relays, relay)
	var runner *timer.Runner // set below, before anything runs
	svc, err := postmortem.New(store, log, postmortem.Config{
		Now: a.cfg.Now, OnCommit: relay.Notify, OnTimer: func() { runner.Notify() }, AckWait: a.cfg.AckWait,
		OverdueAfter: a.cfg.Postmortem.OverdueAfter, PageOverdueAfter: a.cfg.Postmortem.PageOverdueAfter, TimeZone: loc, PublicURL: a.cfg.Postmortem.PublicURL, Metrics: metrics,
	})
	if err != nil {
		return err
	}
	runner, err = timer.New(store.Timers(), svc.HandleTimer, log.With("component", "timers"), timer.Config{Now: a.cfg.Now})
	if err != nil {
		return err
	}
	a.timers = append(a.timers, runner)
	if err := svc.Register(a.router); err != nil {
		return err
	}
	svc.Routes(a.http, log)
	a.Postmortem = svc
	return nil
}

// Registry is the process's Prometheus registry, served at /metrics
// (tests check the Grafana dashboard against it).
func (a *App) Registry() *prometheus.Registry { return a.reg }
