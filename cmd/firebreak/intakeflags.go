package main

import (
	"time"

	"github.com/spf13/pflag"

	"github.com/firebreak-dev/firebreak/internal/app"
	"github.com/firebreak-dev/firebreak/services/incident"
)

// intakeFlags are the alert intake settings `dev` and `serve` share.
type intakeFlags struct {
	rateLimit        float64
	rateBurst        int
	timestampHeader  string
	requireTimestamp bool
	signatureWindow  time.Duration
	coalesce         time.Duration
	maxAlerts        int
}

func (f *intakeFlags) register(fs *pflag.FlagSet) {
	fs.Float64Var(&f.rateLimit, "pd-rate-limit", 120, "PagerDuty Events v2: events per second one routing key may send on average (429 beyond)")
	fs.IntVar(&f.rateBurst, "pd-rate-burst", 240, "PagerDuty Events v2: events one routing key may send at once")
	fs.StringVar(&f.timestampHeader, "grafana-timestamp-header", "X-Grafana-Alerting-Timestamp", "Grafana webhooks: header carrying the signature timestamp (signed as timestamp:body)")
	fs.BoolVar(&f.requireTimestamp, "grafana-require-timestamp", false, "Grafana webhooks: refuse requests without a signature timestamp")
	fs.DurationVar(&f.signatureWindow, "grafana-replay-window", 5*time.Minute, "Grafana webhooks: how far a signature timestamp may be from now")
	fs.DurationVar(&f.coalesce, "alert-coalesce-interval", 10*time.Second, "how often an incident whose alert keeps repeating reports its alert count")
	fs.IntVar(&f.maxAlerts, "incident-max-alerts", incident.DefaultMaxAlerts, "the most distinct alerts one incident keeps; receipts of further alerts are only counted")
}

// apply puts the settings into cfg.
func (f *intakeFlags) apply(cfg *app.Config) {
	cfg.Sources.RateLimit = f.rateLimit
	cfg.Sources.RateBurst = f.rateBurst
	cfg.Sources.TimestampHeader = f.timestampHeader
	cfg.Sources.RequireTimestamp = f.requireTimestamp
	cfg.Sources.SignatureWindow = f.signatureWindow
	cfg.AlertCoalesceInterval = f.coalesce
	cfg.IncidentMaxAlerts = f.maxAlerts
}
