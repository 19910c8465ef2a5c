package app

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	slackapi "github.com/slack-go/slack"

	"github.com/firebreak-dev/firebreak/internal/bus"
	outboxpg "github.com/firebreak-dev/firebreak/internal/outbox/postgres"
	outboxsqlite "github.com/firebreak-dev/firebreak/internal/outbox/sqlite"
	"github.com/firebreak-dev/firebreak/services/escalation"
	"github.com/firebreak-dev/firebreak/services/slack"
	slackpg "github.com/firebreak-dev/firebreak/services/slack/store/postgres"
	slacksqlite "github.com/firebreak-dev/firebreak/services/slack/store/sqlite"
)

// slackWorkers is how many interactions, and how many incident events, the
// slack service handles at once.
const slackWorkers = 64

// wireSlack builds the Slack app: its store and outbox relay (commands it
// issues), its consumers, its endpoints and its workers. Without a bot
// token it stays off and says so.
func (a *App) wireSlack(ctx context.Context, log *slog.Logger) error {
	sc := a.cfg.Slack
	if sc.BotToken == "" {
		log.Warn("slack service off: no bot token (set FIREBREAK_SLACK_BOT_TOKEN)")
		return nil
	}
	if sc.SigningSecret == "" && sc.AppToken == "" {
		return errors.New("slack: FIREBREAK_SLACK_SIGNING_SECRET is required for the HTTP endpoints (or FIREBREAK_SLACK_APP_TOKEN for Socket Mode)")
	}
	var (
		store  slack.Store
		outbox bus.OutboxStore
	)
	if a.cfg.Postgres != "" {
		pool, err := a.openPostgres(ctx, slack.Name)
		if err != nil {
			return err
		}
		store, outbox = slackpg.New(pool, a.cfg.Now), outboxpg.New(pool)
	} else {
		d, err := a.openSQLite(ctx, slack.Name)
		if err != nil {
			return err
		}
		store, outbox = slacksqlite.New(d, a.cfg.Now), outboxsqlite.New(d)
	}
	relay := bus.NewRelay(a.js, outbox, log, bus.RelayConfig{})
	a.relays = append(a.relays, relay)

	// Slack calls come from many workers at once; net/http's default
	// keeps only 2 idle connections per host, so the rest would open (and
	// for slack.com, TLS-handshake) a connection per call.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = slackWorkers
	opts := []slackapi.Option{slackapi.OptionHTTPClient(&http.Client{Transport: tr})}
	if sc.APIURL != "" {
		u := sc.APIURL
		if !strings.HasSuffix(u, "/") {
			u += "/"
		}
		opts = append(opts, slackapi.OptionAPIURL(u))
	}
	api := slackapi.New(sc.BotToken, opts...)

	var dir slack.Directory
	if a.Escalation != nil {
		dir = escalationDirectory{svc: a.Escalation, a: a}
	} else {
		log.Warn("slack: the escalation service is not in this process: Slack users are linked only by auto-provisioning, and oncall/page <schedule> are unavailable")
	}
	channel := sc.Channel
	if channel == "" {
		channel = "#incidents"
	}
	baseURL := a.cfg.PublicURL
	if baseURL == "" {
		baseURL = "http://" + a.cfg.HTTPAddr
	}
	svc, err := slack.New(store, api, dir, log, slack.Config{
		Channel: channel, ChannelSeverities: sc.ChannelSeverities, AutoProvision: sc.AutoProvision,
		BaseURL: baseURL, AckWait: a.cfg.AckWait, OnCommit: relay.Notify, Now: a.cfg.Now, Workers: slackWorkers,
	})
	if err != nil {
		return err
	}
	if err := svc.Register(a.router); err != nil {
		return err
	}
	if sc.SigningSecret != "" {
		svc.Routes(a.http, []byte(sc.SigningSecret), log)
	}
	a.runners = append(a.runners, svc.Run)
	if sc.AppToken != "" {
		a.runners = append(a.runners, func(ctx context.Context) error {
			return slack.RunSocketMode(ctx, svc, sc.AppToken, opts, log)
		})
	}
	a.Slack = svc
	return nil
}

// escalationDirectory answers the slack service's questions about people
// from the escalation service running in the same process (its Config and
// OnCall, the same answers its HTTP API gives).
type escalationDirectory struct {
	svc *escalation.Service
	a   *App
}

func (d escalationDirectory) UserByEmail(ctx context.Context, email string) (string, bool, error) {
	cfg, err := d.svc.Config(ctx)
	if err != nil {
		return "", false, err
	}
	for _, u := range cfg.Users {
		if u.Email != "" && strings.EqualFold(u.Email, email) {
			return u.ID, true, nil
		}
	}
	return "", false, nil
}

func (d escalationDirectory) OnCall(ctx context.Context, schedule string) (string, bool, error) {
	sh, ok, err := d.svc.OnCall(ctx, schedule, d.a.cfg.Now())
	if err != nil || !ok {
		return "", false, err
	}
	return sh.User, sh.User != "", nil
}
