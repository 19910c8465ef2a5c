package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/firebreak-dev/firebreak/examples"
	"github.com/firebreak-dev/firebreak/internal/app"
	"github.com/firebreak-dev/firebreak/internal/client"
	"github.com/firebreak-dev/firebreak/internal/db"
	"github.com/firebreak-dev/firebreak/services/escalation/configfile"
	"github.com/firebreak-dev/firebreak/services/intake"
)

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, usageError{fmt.Errorf("--log-level: %w", err)}
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

// DevInfo is what `firebreak dev` writes to <data-dir>/dev.json for scripts.
type DevInfo struct {
	HTTPURL   string `json:"http_url"`
	NATSURL   string `json:"nats_url"`
	TokenFile string `json:"token_file"`
	PID       int    `json:"pid"`
}

func newDevCmd(stdout, stderr io.Writer) *cobra.Command {
	var (
		dataDir, httpAddr, natsListen, logLevel string
		sample                                  bool
		ackWait                                 time.Duration
		nf                                      *notifyFlags
		slackCfg                                *app.SlackConfig
		pm                                      app.PostmortemConfig
		vf                                      vulnFlags
		publicURL                               string
		intakeOpts                              intakeFlags
	)
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run every service in one process with embedded NATS JetStream and SQLite",
		Long: `Run every firebreak service in one process: an embedded NATS JetStream server
(file storage in <data-dir>/nats, also served to outside producers on
--nats-listen; if that port is taken a free one is used and printed), one
SQLite file per service (<data-dir>/<service>.db), the HTTP API on
--http-addr, and a sample setup (--sample): the paging configuration of
examples/firebreak.yaml (services, users, an on-call schedule, escalation
policies) when none is configured yet, and one demo alert at start.

The admin token is FIREBREAK_ADMIN_TOKEN, or the one in <data-dir>/admin.token,
or a new one written there. Technical services are created on first use.
SIGINT/SIGTERM drain in-flight work and exit; a restart on the same data dir,
even after kill -9, resumes where it stopped.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger, err := newLogger(stderr, logLevel)
			if err != nil {
				return err
			}
			nf.publicURL, vf.publicURL, pm.PublicURL = publicURL, publicURL, publicURL
			notifyCfg, err := nf.config()
			if err != nil {
				return err
			}
			vc, err := vf.config()
			if err != nil {
				return err
			}
			cfg := app.Config{
				DataDir: dataDir, HTTPAddr: httpAddr, NATSListen: natsListen,
				AdminToken: os.Getenv("FIREBREAK_ADMIN_TOKEN"), GenerateToken: true,
				AutoCreateServices: true, Logger: logger, AckWait: ackWait, PublicURL: publicURL,
				Notify:     notifyCfg,
				Slack:      *slackCfg,
				Postmortem: pm,
				Vuln:       vc,
			}
			intakeOpts.apply(&cfg)
			a, err := app.New(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			info := DevInfo{HTTPURL: a.HTTPURL(), NATSURL: a.NATSURL(), TokenFile: a.TokenFile(), PID: os.Getpid()}
			if b, err := json.MarshalIndent(info, "", "  "); err == nil {
				_ = os.WriteFile(filepath.Join(dataDir, "dev.json"), append(b, '\n'), 0o600)
			}
			printDevBanner(stdout, a, dataDir)
			ctx := cmd.Context()
			if sample {
				go raiseSample(ctx, logger, a.HTTPURL(), a.Token())
			}
			err = a.Run(ctx)
			fmt.Fprintln(stdout, "firebreak dev stopped")
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&dataDir, "data-dir", ".firebreak", "directory for SQLite files, the JetStream store and the admin token")
	f.StringVar(&httpAddr, "http-addr", "127.0.0.1:8080", "HTTP API listen address")
	f.StringVar(&natsListen, "nats-listen", "127.0.0.1:4222", "embedded NATS client address for outside producers (\"\" for none)")
	f.StringVar(&logLevel, "log-level", "warn", "log level: debug, info, warn, error")
	f.BoolVar(&sample, "sample", true, "apply the example paging configuration (if none) and raise a sample alert at start")
	f.DurationVar(&ackWait, "ack-wait", 30*time.Second, "how long consumers have to acknowledge a message before it is redelivered (after a crash, in-flight messages arrive this late)")
	nf = addNotifyFlags(f)
	slackCfg = addSlackFlags(f, true)
	postmortemFlags(f, &pm)
	vf.add(f)
	f.StringSliceVar(&vf.contacts, "security-contact", nil, securityContactHelp)
	f.StringVar(&publicURL, "public-url", "", publicURLHelp)
	intakeOpts.register(f)
	return cmd
}

func printDevBanner(w io.Writer, a *app.App, dataDir string) {
	nats := a.NATSURL()
	if nats == "" {
		nats = "(in-process only)"
	}
	fmt.Fprintf(w, `firebreak dev is running (services: %s)
  API      %s
  NATS     %s
  data     %s
  token    %s  (saved in %s)

Raise an alert:
  curl -sS -X POST %s/api/v1/alerts \
    -H "Authorization: Bearer $(cat %s)" -H 'Content-Type: application/json' \
    -d '{"service":"checkout","dedup_key":"checkout-5xx","summary":"Checkout 5xx rate above 5%%","severity":"critical"}'
Then:
  go run ./cmd/firebreak incident list
  go run ./cmd/firebreak incident ack INC-1

Metrics at %s/metrics, health at %s/healthz. Ctrl-C stops.
`, strings.Join(app.Services, ", "), a.HTTPURL(), nats, dataDir, a.Token(), a.TokenFile(),
		a.HTTPURL(), a.TokenFile(), a.HTTPURL(), a.HTTPURL())
}

// raiseSample is dev's sample setup, through the real API: it applies the
// example paging configuration (examples/firebreak.yaml: services, users, an
// on-call schedule, policies) when none is configured yet, then raises one
// demo alert, so the first `incident list` shows something and its pages
// are on the bus.
func raiseSample(ctx context.Context, logger *slog.Logger, url, token string) {
	c := client.New(url, token, "")
	if err := applySampleConfig(ctx, c); err != nil {
		logger.Warn("sample configuration not applied", "err", err)
	}
	for attempt := 0; attempt < 20; attempt++ {
		_, err := c.SendAlert(ctx, intake.Alert{Service: "sample-db", DedupKey: "sample-disk-full",
			Summary: "Sample alert: disk 91% full on sample-db-1", Severity: "warning", Source: "sample-db-1"})
		if err == nil {
			return
		}
		logger.Debug("sample alert", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func newServeCmd(stderr io.Writer) *cobra.Command {
	var (
		natsURL, postgres, httpAddr, token, logLevel string
		auditKeyFile                                 string
		replicas                                     int
		autoCreate                                   bool
		ackWait                                      time.Duration
		nf                                           *notifyFlags
		slackCfg                                     *app.SlackConfig
		pm                                           app.PostmortemConfig
		vf                                           vulnFlags
		publicURL                                    string
		intakeOpts                                   intakeFlags
	)
	cmd := &cobra.Command{
		Use:   "serve <service>",
		Short: "Run one service against external NATS and PostgreSQL",
		Long: fmt.Sprintf(`Run one service (%s) against an external NATS JetStream server or
cluster and PostgreSQL; the service keeps its tables in its own schema
(fb_<service>). Several replicas of a service share its durable consumers.
The admin token comes from --admin-token or FIREBREAK_ADMIN_TOKEN. The audit
service signs its checkpoints with the base64 Ed25519 seed in
--audit-signing-key-file (FIREBREAK_AUDIT_SIGNING_KEY_FILE, e.g. a Compose
or Kubernetes secret; create one with: openssl rand -base64 32) or in
FIREBREAK_AUDIT_SIGNING_KEY.`, strings.Join(app.Services, ", ")),
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			logger, err := newLogger(stderr, logLevel)
			if err != nil {
				return err
			}
			if natsURL == "" {
				return usageError{fmt.Errorf("--nats-url (FIREBREAK_NATS_URL) is required")}
			}
			if postgres == "" && app.HasDatabase(args[0]) {
				return usageError{fmt.Errorf("--postgres (FIREBREAK_POSTGRES) is required for %s", args[0])}
			}
			if token == "" {
				return usageError{fmt.Errorf("--admin-token (FIREBREAK_ADMIN_TOKEN) is required")}
			}
			nf.publicURL, vf.publicURL, pm.PublicURL = publicURL, publicURL, publicURL
			notifyCfg, err := nf.config()
			if err != nil {
				return err
			}
			vc, err := vf.config()
			if err != nil {
				return err
			}
			cfg := app.Config{
				Services: []string{args[0]}, HTTPAddr: httpAddr, NATSURL: natsURL, Postgres: postgres,
				AdminToken: token, StreamReplicas: replicas, AutoCreateServices: autoCreate, Logger: logger, AckWait: ackWait,
				PublicURL:  publicURL,
				Notify:     notifyCfg,
				Slack:      *slackCfg,
				Postmortem: pm,
				Vuln:       vc,

				AuditSigningKeyFile: auditKeyFile,
			}
			intakeOpts.apply(&cfg)
			a, err := app.New(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			logger.Info("serving", "service", args[0], "http", a.HTTPURL(), "nats", natsURL)
			return a.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&natsURL, "nats-url", "", "NATS server URL(s), comma-separated")
	f.StringVar(&postgres, "postgres", "", "PostgreSQL URL")
	f.StringVar(&httpAddr, "http-addr", "127.0.0.1:8080", "HTTP listen address")
	f.StringVar(&token, "admin-token", "", "bootstrap admin token")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	f.IntVar(&replicas, "stream-replicas", 1, "JetStream stream replicas (3 on a cluster)")
	f.BoolVar(&autoCreate, "auto-create-services", false, "create technical services on first use")
	f.DurationVar(&ackWait, "ack-wait", 30*time.Second, "how long consumers have to acknowledge a message before it is redelivered")
	nf = addNotifyFlags(f)
	slackCfg = addSlackFlags(f, false)
	postmortemFlags(f, &pm)
	vf.add(f)
	f.StringSliceVar(&vf.contacts, "security-contact", nil, securityContactHelp)
	f.StringVar(&publicURL, "public-url", "", publicURLHelp)
	intakeOpts.register(f)
	f.StringVar(&auditKeyFile, "audit-signing-key-file", "", "file holding the base64 Ed25519 seed that signs audit checkpoints (audit service)")
	return cmd
}

func newMigrateCmd(stdout io.Writer) *cobra.Command {
	var postgres, dataDir string
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply every service's database migrations",
		Long: `Apply the embedded migrations of every service: to PostgreSQL (--postgres),
one schema per service, or to the SQLite files in --data-dir. Services also
migrate at start, so this is for preparing a database ahead of a deploy.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			for _, svc := range app.Services {
				if !app.HasDatabase(svc) {
					continue
				}
				if postgres != "" {
					pool, err := db.OpenPostgres(ctx, postgres, app.PostgresSchema(svc))
					if err != nil {
						return err
					}
					err = app.MigratePostgres(ctx, pool, svc)
					pool.Close()
					if err != nil {
						return err
					}
					fmt.Fprintf(stdout, "migrated %s (postgres schema %s)\n", svc, app.PostgresSchema(svc))
					continue
				}
				path := filepath.Join(dataDir, svc+".db")
				d, err := db.OpenSQLite(ctx, path)
				if err != nil {
					return err
				}
				err = app.MigrateSQLite(ctx, d, svc)
				d.Close()
				if err != nil {
					return err
				}
				fmt.Fprintf(stdout, "migrated %s (%s)\n", svc, path)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&postgres, "postgres", "", "PostgreSQL URL (default: SQLite files in --data-dir)")
	cmd.Flags().StringVar(&dataDir, "data-dir", ".firebreak", "directory of the SQLite files")
	return cmd
}

func newVersionCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			v, goV := "(devel)", ""
			if bi, ok := debug.ReadBuildInfo(); ok {
				goV = bi.GoVersion
				if bi.Main.Version != "" {
					v = bi.Main.Version
				}
				for _, s := range bi.Settings {
					if s.Key == "vcs.revision" && len(s.Value) >= 12 {
						v += " " + s.Value[:12]
					}
				}
			}
			fmt.Fprintf(stdout, "firebreak %s %s\n", v, goV)
		},
	}
}

// applySampleConfig applies the embedded example configuration unless some
// configuration exists already (a restart, or the user's own).
func applySampleConfig(ctx context.Context, c *client.Client) error {
	cur, err := c.GetConfig(ctx)
	if err != nil {
		return err
	}
	if len(cur.Services) > 0 || len(cur.Users) > 0 || len(cur.Policies) > 0 {
		return nil
	}
	cfg, _, err := configfile.Parse(examples.Firebreak)
	if err != nil {
		return fmt.Errorf("examples/firebreak.yaml: %w", err)
	}
	_, err = c.ApplyConfig(ctx, cfg, false)
	return err
}

// addSlackFlags registers the Slack app's flags (dev and serve share them;
// only the auto-provisioning default differs).
func addSlackFlags(f *pflag.FlagSet, autoProvision bool) *app.SlackConfig {
	c := &app.SlackConfig{}
	f.StringVar(&c.BotToken, "slack-bot-token", "", "Slack bot token (xoxb-…); without it the slack service is off (prefer FIREBREAK_SLACK_BOT_TOKEN)")
	f.StringVar(&c.SigningSecret, "slack-signing-secret", "", "Slack signing secret verifying /slack/interactions and /slack/commands (prefer FIREBREAK_SLACK_SIGNING_SECRET)")
	f.StringVar(&c.AppToken, "slack-app-token", "", "Slack app-level token (xapp-…): clicks and slash commands over Socket Mode instead of public endpoints")
	f.StringVar(&c.APIURL, "slack-api-url", "", "Slack Web API base URL (default https://slack.com/api/)")
	f.StringVar(&c.Channel, "slack-channel", "#incidents", "Slack channel for incident messages")
	f.BoolVar(&c.AutoProvision, "slack-auto-provision", autoProvision, "make an unknown Slack user a responder on first interaction")
	f.StringSliceVar(&c.ChannelSeverities, "slack-channel-severities", nil, "severities that get a Slack channel #inc-<n>-<title>, e.g. SEV1,SEV2")
	return c
}
