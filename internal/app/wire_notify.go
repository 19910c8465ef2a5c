package app

import (
	"context"
	"log/slog"

	"github.com/slack-go/slack"

	"github.com/firebreak-dev/firebreak/internal/bus"
	outboxpg "github.com/firebreak-dev/firebreak/internal/outbox/postgres"
	outboxsqlite "github.com/firebreak-dev/firebreak/internal/outbox/sqlite"
	"github.com/firebreak-dev/firebreak/internal/timer"
	"github.com/firebreak-dev/firebreak/services/notify"
	notifypg "github.com/firebreak-dev/firebreak/services/notify/store/postgres"
	notifysqlite "github.com/firebreak-dev/firebreak/services/notify/store/sqlite"
)

// wireNotify builds the notify service: its store, the relay of its outbox
// (notification.sent/failed), its providers, its consumer of page.requested,
// its consumer of published status updates, notices and reporter updates,
// its routes (subscribers and /unsubscribe included) and the runner of its delivery timers. Slack pages need
// Config.Slack.BotToken and email pages Config.Notify.SMTP.Host; without
// them those pages fail as unsupported (and fall through to the user's next
// notification rule), which start-up says.
func (a *App) wireNotify(ctx context.Context, log *slog.Logger) error {
	var (
		store  notify.Store
		outbox bus.OutboxStore
	)
	if a.cfg.Postgres != "" {
		pool, err := a.openPostgres(ctx, notify.Name)
		if err != nil {
			return err
		}
		store, outbox = notifypg.New(pool, a.cfg.Now), outboxpg.New(pool)
	} else {
		d, err := a.openSQLite(ctx, notify.Name)
		if err != nil {
			return err
		}
		store, outbox = notifysqlite.New(d, a.cfg.Now), outboxsqlite.New(d)
	}
	relay := bus.NewRelay(a.js, outbox, log, bus.RelayConfig{})
	a.relays = append(a.relays, relay)

	cfg := a.cfg.Notify
	providers := []notify.Provider{
		notify.NewWebhook(cfg.HTTPClient, cfg.WebhookSecret, cfg.WebhookSecrets, a.cfg.Now),
		notify.NewTeams(cfg.HTTPClient),
	}
	if a.cfg.Slack.BotToken != "" {
		var opts []slack.Option
		if a.cfg.Slack.APIURL != "" {
			opts = append(opts, slack.OptionAPIURL(a.cfg.Slack.APIURL))
		}
		providers = append(providers, notify.NewSlack(slack.New(a.cfg.Slack.BotToken, opts...), a.cfg.Slack.Channel))
	} else {
		log.Warn("no Slack bot token (FIREBREAK_SLACK_BOT_TOKEN): Slack pages fail and fall through to the next notification rule")
	}
	if cfg.SMTP.Host != "" {
		email, err := notify.NewEmail(cfg.SMTP, a.cfg.Now)
		if err != nil {
			return err
		}
		providers = append(providers, email)
	} else {
		log.Warn("no SMTP host (FIREBREAK_SMTP_HOST): email pages fail and fall through to the next notification rule")
	}
	if cfg.WebhookSecret == "" {
		log.Warn("no webhook signing secret (FIREBREAK_WEBHOOK_SECRET): webhooks go out unsigned")
	}
	if cfg.SubscriberSecret == "" && a.cfg.GenerateToken {
		// dev: one kept next to the admin token, so links survive restarts.
		secret, err := a.devSecret("notify-subscriber.secret")
		if err != nil {
			return err
		}
		cfg.SubscriberSecret = secret
	}
	if cfg.SubscriberSecret == "" {
		log.Warn("no subscriber secret (FIREBREAK_NOTIFY_SUBSCRIBER_SECRET): POST /api/v1/subscribers is refused")
	}

	var runner *timer.Runner // set below, before anything runs
	cfg.AckWait, cfg.Now, cfg.OnCommit, cfg.OnTimer = a.cfg.AckWait, a.cfg.Now, relay.Notify, func() { runner.Notify() }
	svc, err := notify.New(store, providers, log, cfg)
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
	a.Notify = svc
	return nil
}
