// Package app is the one place where a firebreak process is wired:
// configuration → NATS → databases → stores → services → HTTP. `firebreak dev`
// runs every service in one App over an embedded NATS server and SQLite;
// `firebreak serve <service>` runs one over external NATS and PostgreSQL.
// Even in one process the services talk only through NATS.
package app

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	"github.com/firebreak-dev/firebreak/internal/bus"
	"github.com/firebreak-dev/firebreak/internal/db"
	"github.com/firebreak-dev/firebreak/internal/httpapi"
	outboxpg "github.com/firebreak-dev/firebreak/internal/outbox/postgres"
	outboxsqlite "github.com/firebreak-dev/firebreak/internal/outbox/sqlite"
	"github.com/firebreak-dev/firebreak/internal/timer"
	"github.com/firebreak-dev/firebreak/internal/token"
	"github.com/firebreak-dev/firebreak/services/audit"
	auditpg "github.com/firebreak-dev/firebreak/services/audit/store/postgres"
	auditsqlite "github.com/firebreak-dev/firebreak/services/audit/store/sqlite"
	"github.com/firebreak-dev/firebreak/services/escalation"
	escalationpg "github.com/firebreak-dev/firebreak/services/escalation/store/postgres"
	escalationsqlite "github.com/firebreak-dev/firebreak/services/escalation/store/sqlite"
	"github.com/firebreak-dev/firebreak/services/incident"
	incidentpg "github.com/firebreak-dev/firebreak/services/incident/store/postgres"
	incidentsqlite "github.com/firebreak-dev/firebreak/services/incident/store/sqlite"
	"github.com/firebreak-dev/firebreak/services/intake"
	"github.com/firebreak-dev/firebreak/services/intake/source"
	"github.com/firebreak-dev/firebreak/services/notify"
	"github.com/firebreak-dev/firebreak/services/postmortem"
	"github.com/firebreak-dev/firebreak/services/slack"
	"github.com/firebreak-dev/firebreak/services/vuln"
)

// Services lists every service, in start order.
var Services = []string{intake.Name, incident.Name, escalation.Name, audit.Name, notify.Name, slack.Name, postmortem.Name, vuln.Name}

// Config is a process's configuration. Zero values take the defaults in
// the comments.
type Config struct {
	// Services to run; empty runs all of them.
	Services []string
	// DataDir holds the SQLite files (<service>.db), the embedded NATS store
	// and the generated admin token. Default ./.firebreak.
	DataDir string
	// HTTPAddr is where the API listens. Default 127.0.0.1:8080.
	HTTPAddr string
	// NATSURL connects to an external NATS server; empty starts an embedded
	// one in DataDir/nats.
	NATSURL string
	// NATSListen is the client address of the embedded NATS server, for
	// outside producers. Empty serves in-process connections only. If the
	// port is taken a free one is used (see App.NATSURL).
	NATSListen string
	// Postgres is a PostgreSQL URL; empty keeps each service's state in
	// DataDir/<service>.db (SQLite). With PostgreSQL each service has its
	// own schema (<SchemaPrefix><service>).
	Postgres string
	// SchemaPrefix prefixes each service's PostgreSQL schema. Default "fb_".
	SchemaPrefix string
	// AdminToken is the bootstrap admin token. Empty: read
	// DataDir/admin.token, or (with GenerateToken) create one there.
	AdminToken    string
	GenerateToken bool
	// AutoCreateServices creates technical services on first use.
	AutoCreateServices bool
	// StreamReplicas is the JetStream replica count (3 on a cluster). Default 1.
	StreamReplicas int
	// Sources tunes intake's alert sources (rate limit of PagerDuty routing
	// keys, Grafana signature window).
	Sources source.Config
	// AlertCoalesceInterval is how often the incident service reports the
	// alert count of an incident whose alert keeps repeating (0: 10 s).
	AlertCoalesceInterval time.Duration
	// IncidentMaxAlerts is the most distinct alerts one incident keeps
	// (0: incident.DefaultMaxAlerts).
	IncidentMaxAlerts int
	// AckWait is how long a consumer has to acknowledge a message before
	// JetStream redelivers it (and so how late a message in flight during a
	// crash arrives). Default 30 s.
	AckWait time.Duration
	// AuditSigningKey is the base64 Ed25519 seed that signs audit
	// checkpoints. Empty: FIREBREAK_AUDIT_SIGNING_KEY, else (with
	// GenerateToken, as in dev) DataDir/audit.key, created if missing.
	AuditSigningKey string
	// PublicURL is the API's public base URL, for links in Slack messages,
	// pages, the status feed, advisories and security.txt
	// (FIREBREAK_PUBLIC_URL).
	PublicURL string
	// AuditSigningKeyFile, when set and AuditSigningKey is not, is a file
	// holding that seed (a secret mounted by the orchestrator); a file that
	// cannot be read or parsed fails the start.
	AuditSigningKeyFile string
	// Slack is the Slack app's configuration, shared by the slack service
	// (incident messages, buttons, slash commands) and the notify service
	// (Slack pages).
	Slack SlackConfig
	// Notify configures the notify service: SMTP, the webhook signing
	// secret, attempts and backoff (FIREBREAK_SMTP_*,
	// FIREBREAK_WEBHOOK_SECRET). Its clock, AckWait and hooks are set by
	// the App.
	Notify notify.Config
	// Postmortem tunes the post-mortem service (FIREBREAK_POSTMORTEM_*).
	Postmortem PostmortemConfig
	// Vuln configures the vuln service: remediation policy, security.txt
	// and advisory publication, disclosure limits (Now, OnCommit and
	// OnTimer are set by the wiring).
	Vuln vuln.Config
	// Logger receives the process log. Default: discard.
	Logger *slog.Logger
	// Now is the services' clock. Default time.Now.
	Now func() time.Time
}

func (c *Config) setDefaults() {
	if len(c.Services) == 0 {
		c.Services = Services
	}
	if c.DataDir == "" {
		c.DataDir = ".firebreak"
	}
	if c.HTTPAddr == "" {
		c.HTTPAddr = "127.0.0.1:8080"
	}
	if c.SchemaPrefix == "" {
		c.SchemaPrefix = "fb_"
	}
	if c.StreamReplicas == 0 {
		c.StreamReplicas = 1
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Validate reports configuration errors.
func (c *Config) Validate() error {
	for _, s := range c.Services {
		if !slices.Contains(Services, s) {
			return fmt.Errorf("unknown service %q (services: %s)", s, strings.Join(Services, ", "))
		}
	}
	if c.AckWait < 0 || (c.AckWait > 0 && c.AckWait < time.Second) {
		return fmt.Errorf("ack wait must be at least 1s, got %s", c.AckWait)
	}
	if c.StreamReplicas < 1 || c.StreamReplicas > 5 {
		return fmt.Errorf("stream replicas must be 1 to 5, got %d", c.StreamReplicas)
	}
	return nil
}

// SlackConfig configures the Slack app (FIREBREAK_SLACK_* variables, or
// the same keys in the YAML configuration). Without a BotToken the slack
// service stays off and notify does not page through Slack.
type SlackConfig struct {
	// BotToken is the bot user OAuth token (xoxb-…).
	BotToken string
	// SigningSecret verifies requests from Slack (X-Slack-Signature).
	SigningSecret string
	// AppToken (xapp-…) selects Socket Mode instead of public HTTP
	// endpoints.
	AppToken string
	// APIURL is the Web API base URL. Default https://slack.com/api/.
	APIURL string
	// Channel is the default channel for incident messages.
	Channel string
	// AutoProvision makes an unknown Slack user a responder on first
	// interaction (on in dev).
	AutoProvision bool
	// ChannelSeverities get an incident channel of their own, e.g. SEV1,
	// SEV2 (slack service).
	ChannelSeverities []string
}

// App is a wired firebreak process.
type App struct {
	cfg      Config
	log      *slog.Logger
	embedded *bus.Embedded
	nc       *nats.Conn
	js       jetstream.JetStream
	router   *bus.Router
	relays   []*bus.Relay
	timers   []*timer.Runner
	http     *httpapi.Server
	reg      *prometheus.Registry
	tokens   *token.Authenticator
	// runners run beside the router until Run's context ends.
	runners  []func(context.Context) error
	httpAddr net.Addr
	natsURL  string
	token    string
	closers  []func()

	// Incident is the incident service when this process runs it (tests).
	Incident *incident.Service
	// Escalation is the escalation service when this process runs it
	// (tests).
	Escalation *escalation.Service
	// Audit is the audit service when this process runs it (tests).
	Audit *audit.Service
	// Notify is the notify service when this process runs it (tests).
	Notify *notify.Service
	// Slack is the slack service when this process runs it with a bot
	// token (tests).
	Slack *slack.Service
	// Postmortem is the post-mortem service when this process runs it
	// (tests).
	Postmortem *postmortem.Service
	// Vuln is the vuln service when this process runs it (tests).
	Vuln *vuln.Service

	closeOnce sync.Once
}

// New wires a process: it starts or connects to NATS, creates the streams,
// opens and migrates the databases, registers every service's consumers
// and routes, and binds the HTTP listener. Run starts the work.
func New(ctx context.Context, cfg Config) (_ *App, err error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	a := &App{cfg: cfg, log: cfg.Logger}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	if err := a.loadToken(); err != nil {
		return nil, err
	}
	if err := a.connectNATS(); err != nil {
		return nil, err
	}
	if err := bus.EnsureStreams(ctx, a.js, cfg.StreamReplicas); err != nil {
		return nil, fmt.Errorf("create streams: %w", err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	a.reg = reg
	if a.router, err = bus.NewRouter(a.js, a.log, reg); err != nil {
		return nil, err
	}
	kv, err := token.EnsureBucket(ctx, a.js, cfg.StreamReplicas)
	if err != nil {
		return nil, err
	}
	tokens := token.NewStore(kv, cfg.Now)
	a.tokens = token.NewAuthenticator(tokens, a.log.With("component", "token"), token.AuthConfig{Now: cfg.Now})
	if a.http, err = httpapi.New(token.Chain{httpapi.NewAdminToken(a.token), a.tokens}, a.log, reg); err != nil {
		return nil, err
	}
	token.NewAPI(tokens, a.tokens, bus.NewPublisher(a.js, a.log), a.log.With("component", "token")).Routes(a.http)
	if err := a.wireSecurityEvents(); err != nil {
		return nil, err
	}
	a.http.AddReadyCheck("nats", func(context.Context) error {
		if !a.nc.IsConnected() {
			return errors.New("not connected to NATS")
		}
		return nil
	})
	for _, name := range cfg.Services {
		if err := a.wire(ctx, name); err != nil {
			return nil, fmt.Errorf("service %s: %w", name, err)
		}
	}
	if a.httpAddr, err = a.http.Listen(cfg.HTTPAddr); err != nil {
		return nil, err
	}
	return a, nil
}

func (a *App) loadToken() error {
	a.token = a.cfg.AdminToken
	if a.token != "" {
		return nil
	}
	if !a.cfg.GenerateToken {
		b, err := os.ReadFile(a.TokenFile())
		if err == nil && strings.TrimSpace(string(b)) != "" {
			a.token = strings.TrimSpace(string(b))
			return nil
		}
		return errors.New("no admin token: set FIREBREAK_ADMIN_TOKEN (or --admin-token)")
	}
	tok, err := a.dataDirSecret(filepath.Base(a.TokenFile()), func() (string, error) {
		r, err := randomHex(24)
		return "fb_admin_" + r, err
	})
	a.token = tok
	return err
}

// devSecret reads the secret kept in DataDir/name, creating a random one
// the first time: dev's stand-in for a secret the operator sets.
func (a *App) devSecret(name string) (string, error) {
	return a.dataDirSecret(name, func() (string, error) { return randomHex(32) })
}

// dataDirSecret returns what DataDir/name holds or, when it holds nothing,
// a new value from generate, written there (0600) for the next start.
func (a *App) dataDirSecret(name string, generate func() (string, error)) (string, error) {
	path := filepath.Join(a.cfg.DataDir, name)
	if b, err := os.ReadFile(path); err == nil && strings.TrimSpace(string(b)) != "" {
		return strings.TrimSpace(string(b)), nil
	}
	secret, err := generate()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(a.cfg.DataDir, 0o750); err != nil {
		return "", fmt.Errorf("create data dir: %w", err)
	}
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write %s: %w", name, err)
	}
	return secret, nil
}

func randomHex(n int) (string, error) {
	buf := make([]byte, n)
	if _, err := rand.Read(buf); err != nil {
		return "", err
	}
	return hex.EncodeToString(buf), nil
}

func (a *App) connectNATS() error {
	url := a.cfg.NATSURL
	var opts []nats.Option
	opts = append(opts, nats.Name("firebreak"), nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond))
	if url == "" {
		e, err := bus.StartEmbedded(bus.EmbeddedConfig{
			StoreDir: filepath.Join(a.cfg.DataDir, "nats"), Listen: a.cfg.NATSListen, ServerName: "firebreak-dev",
		})
		if errors.Is(err, bus.ErrPortInUse) {
			a.log.Warn("NATS port taken, using a free one", "wanted", a.cfg.NATSListen)
			host, _, _ := net.SplitHostPort(a.cfg.NATSListen)
			e, err = bus.StartEmbedded(bus.EmbeddedConfig{
				StoreDir: filepath.Join(a.cfg.DataDir, "nats"), Listen: net.JoinHostPort(host, "0"), ServerName: "firebreak-dev",
			})
		}
		if err != nil {
			return fmt.Errorf("start embedded NATS: %w", err)
		}
		a.embedded = e
		a.natsURL = e.URL
		nc, err := e.Connect(opts...)
		if err != nil {
			return fmt.Errorf("connect embedded NATS: %w", err)
		}
		a.nc = nc
	} else {
		nc, err := nats.Connect(url, opts...)
		if err != nil {
			return fmt.Errorf("connect NATS %s: %w", url, err)
		}
		a.nc, a.natsURL = nc, url
	}
	js, err := jetstream.New(a.nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	a.js = js
	return nil
}

// wire builds one service.
func (a *App) wire(ctx context.Context, name string) error {
	log := a.log.With("service", name)
	switch name {
	case intake.Name:
		return a.wireIntake(ctx, log)
	case incident.Name:
		store, outbox, err := a.incidentStore(ctx)
		if err != nil {
			return err
		}
		relay := bus.NewRelay(a.js, outbox, log, bus.RelayConfig{})
		a.relays = append(a.relays, relay)
		svc, err := incident.New(store, log, incident.Config{
			AutoCreateServices: a.cfg.AutoCreateServices, Now: a.cfg.Now, OnCommit: relay.Notify, AckWait: a.cfg.AckWait,
			CoalesceInterval: a.cfg.AlertCoalesceInterval, MaxAlerts: a.cfg.IncidentMaxAlerts,
		})
		if err != nil {
			return err
		}
		if err := svc.Register(a.router); err != nil {
			return err
		}
		svc.Routes(a.http, log)
		if err := a.addTimers(store.Timers(), svc.HandleTimer, log); err != nil {
			return err
		}
		a.Incident = svc
	case escalation.Name:
		return a.wireEscalation(ctx, log)
	case audit.Name:
		return a.wireAudit(ctx, log)
	case notify.Name:
		return a.wireNotify(ctx, log)
	case slack.Name:
		return a.wireSlack(ctx, log)
	case postmortem.Name:
		return a.wirePostmortem(ctx, log)
	case vuln.Name:
		return a.wireVuln(ctx, log)
	}
	return nil
}

// wireAudit builds the audit service: its store (it emits nothing, so no
// relay), its signing key, its consumers and its routes.
func (a *App) wireAudit(ctx context.Context, log *slog.Logger) error {
	signer, err := a.auditSigner()
	if err != nil {
		return err
	}
	var store audit.Store
	if a.cfg.Postgres != "" {
		pool, err := a.openPostgres(ctx, audit.Name)
		if err != nil {
			return err
		}
		store = auditpg.New(pool)
	} else {
		d, err := a.openSQLite(ctx, audit.Name)
		if err != nil {
			return err
		}
		store = auditsqlite.New(d)
	}
	svc, err := audit.New(store, log, audit.Config{Signer: signer, AckWait: a.cfg.AckWait, Now: a.cfg.Now})
	if err != nil {
		return err
	}
	if err := svc.Register(a.router); err != nil {
		return err
	}
	svc.Routes(a.http, log)
	a.Audit = svc
	return nil
}

// AuditKeyFile is where `dev` keeps the generated audit signing key.
func (a *App) AuditKeyFile() string { return filepath.Join(a.cfg.DataDir, "audit.key") }

// auditSigner loads the checkpoint signing key (see Config.AuditSigningKey);
// nil when `serve` has none.
func (a *App) auditSigner() (*audit.Signer, error) {
	key := a.cfg.AuditSigningKey
	if key == "" {
		key = os.Getenv("FIREBREAK_AUDIT_SIGNING_KEY")
	}
	if key == "" && a.cfg.AuditSigningKeyFile != "" {
		b, err := os.ReadFile(a.cfg.AuditSigningKeyFile)
		if err != nil {
			return nil, fmt.Errorf("read audit signing key file: %w", err)
		}
		s, err := audit.ParseSigningKey(strings.TrimSpace(string(b)))
		if err != nil {
			return nil, fmt.Errorf("audit signing key file %s: %w", a.cfg.AuditSigningKeyFile, err)
		}
		return s, nil
	}
	if key == "" {
		b, err := os.ReadFile(a.AuditKeyFile())
		switch {
		case err == nil:
			key = strings.TrimSpace(string(b))
		case !errors.Is(err, os.ErrNotExist):
			return nil, fmt.Errorf("read audit signing key: %w", err)
		case !a.cfg.GenerateToken:
			a.log.Warn("no audit signing key: the audit log is chained but no checkpoints are signed; set FIREBREAK_AUDIT_SIGNING_KEY (a base64 Ed25519 seed, e.g. openssl rand -base64 32)")
			return nil, nil
		default:
			key, err = a.dataDirSecret(filepath.Base(a.AuditKeyFile()), func() (string, error) {
				seed := make([]byte, 32)
				_, err := rand.Read(seed)
				return base64.StdEncoding.EncodeToString(seed), err
			})
			if err != nil {
				return nil, err
			}
		}
	}
	return audit.ParseSigningKey(key)
}

// wireEscalation builds the escalation service: its store, the relay of its
// outbox, its consumer, its routes and the runner of its timers, which it
// pokes after every transaction that scheduled one.
func (a *App) wireEscalation(ctx context.Context, log *slog.Logger) error {
	var (
		store  escalation.Store
		outbox bus.OutboxStore
	)
	if a.cfg.Postgres != "" {
		pool, err := a.openPostgres(ctx, escalation.Name)
		if err != nil {
			return err
		}
		store, outbox = escalationpg.New(pool, a.cfg.Now), outboxpg.New(pool)
	} else {
		d, err := a.openSQLite(ctx, escalation.Name)
		if err != nil {
			return err
		}
		store, outbox = escalationsqlite.New(d, a.cfg.Now), outboxsqlite.New(d)
	}
	relay := bus.NewRelay(a.js, outbox, log, bus.RelayConfig{})
	a.relays = append(a.relays, relay)
	var runner *timer.Runner // set below, before anything runs
	svc, err := escalation.New(store, log, escalation.Options{
		Now: a.cfg.Now, OnCommit: relay.Notify, OnTimer: func() { runner.Notify() }, AckWait: a.cfg.AckWait,
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
	a.Escalation = svc
	return nil
}

func (a *App) incidentStore(ctx context.Context) (incident.Store, bus.OutboxStore, error) {
	if a.cfg.Postgres != "" {
		pool, err := a.openPostgres(ctx, incident.Name)
		if err != nil {
			return nil, nil, err
		}
		return incidentpg.New(pool, a.cfg.Now), outboxpg.New(pool), nil
	}
	d, err := a.openSQLite(ctx, incident.Name)
	if err != nil {
		return nil, nil, err
	}
	return incidentsqlite.New(d, a.cfg.Now), outboxsqlite.New(d), nil
}

// PostgresSchema is the schema a service owns in a shared database, with
// the default prefix.
func PostgresSchema(service string) string { return "fb_" + service }

func (a *App) openPostgres(ctx context.Context, service string) (*pgxpool.Pool, error) {
	pool, err := db.OpenPostgres(ctx, a.cfg.Postgres, a.cfg.SchemaPrefix+service)
	if err != nil {
		return nil, err
	}
	a.closers = append(a.closers, pool.Close)
	if err := MigratePostgres(ctx, pool, service); err != nil {
		return nil, err
	}
	a.http.AddReadyCheck(service+"-db", func(ctx context.Context) error { return pool.Ping(ctx) })
	return pool, nil
}

func (a *App) openSQLite(ctx context.Context, service string) (*sql.DB, error) {
	var opts []db.SQLiteOption
	if service == incident.Name {
		// Every alert of a storm reads and writes its open incident.
		opts = append(opts, db.CacheKiB(8192))
	}
	d, err := db.OpenSQLite(ctx, filepath.Join(a.cfg.DataDir, service+".db"), opts...)
	if err != nil {
		return nil, err
	}
	a.closers = append(a.closers, func() { d.Close() })
	if err := MigrateSQLite(ctx, d, service); err != nil {
		return nil, err
	}
	a.http.AddReadyCheck(service+"-db", func(ctx context.Context) error { return d.PingContext(ctx) })
	return d, nil
}

// addTimers runs a service's durable timers on the process clock.
func (a *App) addTimers(src timer.Source, h timer.Handler, log *slog.Logger) error {
	r, err := timer.New(src, h, log.With("component", "timers"), timer.Config{Now: a.cfg.Now})
	if err != nil {
		return err
	}
	a.timers = append(a.timers, r)
	return nil
}

// migrationSets are the migration sets of a service's database.
func migrationSets(service string) []string {
	switch service {
	case incident.Name:
		return []string{"outbox", "timer", incident.Name}
	case escalation.Name:
		return []string{"outbox", "timer", escalation.Name}
	case audit.Name:
		return []string{"outbox", audit.Name}
	case notify.Name:
		return []string{"outbox", "timer", notify.Name}
	case slack.Name:
		return []string{"outbox", slack.Name}
	case postmortem.Name:
		return []string{"outbox", "timer", postmortem.Name}
	case vuln.Name:
		return []string{"outbox", "timer", vuln.Name}
	}
	return nil
}

// MigrateSQLite applies a service's migrations to its SQLite database.
func MigrateSQLite(ctx context.Context, d *sql.DB, service string) error {
	for _, set := range migrationSets(service) {
		if err := db.Migrate(ctx, d, db.SQLite, set); err != nil {
			return err
		}
	}
	return nil
}

// MigratePostgres applies a service's migrations to its PostgreSQL schema.
func MigratePostgres(ctx context.Context, pool *pgxpool.Pool, service string) error {
	for _, set := range migrationSets(service) {
		if err := db.MigratePostgres(ctx, pool, set); err != nil {
			return err
		}
	}
	return nil
}

// HasDatabase reports whether a service keeps state of its own.
func HasDatabase(service string) bool { return len(migrationSets(service)) > 0 }

// HTTPURL is the base URL of the API.
func (a *App) HTTPURL() string { return "http://" + a.httpAddr.String() }

// NATSURL is the NATS client URL ("" for an embedded server that does not
// listen).
func (a *App) NATSURL() string { return a.natsURL }

// NATSConn is the process's NATS connection (tests subscribe with it).
func (a *App) NATSConn() *nats.Conn { return a.nc }

// Token is the bootstrap admin token.
func (a *App) Token() string { return a.token }

// TokenFile is where `dev` keeps the generated admin token.
func (a *App) TokenFile() string { return filepath.Join(a.cfg.DataDir, "admin.token") }

// Run serves until ctx ends, then drains: the HTTP server stops taking
// requests and finishes those in flight, the router finishes the messages
// it is handling (unacknowledged ones are redelivered after a restart), the
// relays publish what is committed, and everything closes.
func (a *App) Run(ctx context.Context) error {
	defer a.Close()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return a.router.Run(gctx) })
	g.Go(func() error { return a.tokens.Run(gctx) })
	for _, run := range a.runners {
		g.Go(func() error { return run(gctx) })
	}
	for _, r := range a.timers {
		g.Go(func() error { return r.Run(gctx) })
	}
	for _, r := range a.relays {
		g.Go(func() error { return r.Run(gctx) })
	}
	g.Go(func() error {
		select {
		case <-a.router.Running():
		case <-gctx.Done():
			return nil
		}
		return a.http.Serve(gctx)
	})
	err := g.Wait()
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	flushCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, r := range a.relays {
		if ferr := r.Flush(flushCtx); ferr != nil {
			a.log.Warn("outbox flush at shutdown", "err", ferr)
		}
	}
	return err
}

// Close releases everything New acquired. Run calls it.
func (a *App) Close() {
	a.closeOnce.Do(func() {
		if a.router != nil {
			_ = a.router.Close()
		}
		if a.nc != nil {
			_ = a.nc.Drain()
			a.nc.Close()
		}
		for i := len(a.closers) - 1; i >= 0; i-- {
			a.closers[i]()
		}
		if a.embedded != nil {
			a.embedded.Shutdown()
		}
	})
}
