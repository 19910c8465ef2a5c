// Package source serves intake's alert sources, each authenticated by an
// integration key (internal/integration) that names the technical service
// its alerts belong to:
//
//   - POST /v2/enqueue and POST /v2/change/enqueue: PagerDuty's Events API
//     v2, routing_key in the body, PagerDuty's answers (202, 400 with every
//     error, 413, 429 with Retry-After);
//   - POST /api/v1/integrations/alertmanager: Alertmanager's webhook (v4),
//     the key as bearer token (http_config.authorization);
//   - POST /api/v1/integrations/grafana/{integration_id}: Grafana's webhook,
//     signed with the integration's signing secret;
//   - POST /api/v1/integrations/generic: the generic JSON alert or a
//     CloudEvent, the key as bearer token;
//   - the NATS subjects fb.ingest.<service> (stream FB_INGEST), consumed by
//     the durable consumer intake-ingest.
//
// It also provides the CloudEvents Decoder of POST /api/v1/alerts.
//
// It is a package of its own because the decoders it uses (pagerduty,
// alertmanager, grafana, cloudevents) import intake.
package source

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/integration"
	"github.com/firebreak-dev/firebreak/services/intake"
)

// Keys resolves integration keys (integration.Keys).
type Keys interface {
	// Lookup returns the active integration of key, or
	// integration.ErrUnknownKey (malformed, unknown and revoked alike), or
	// a fault.Unavailable error.
	Lookup(ctx context.Context, key string) (integration.Integration, error)
	// Signed returns an active Grafana integration and its signing secret,
	// or integration.ErrUnknownKey.
	Signed(ctx context.Context, id string) (integration.Integration, []byte, error)
}

// Config tunes the sources. Zero values take the defaults in the comments.
type Config struct {
	// RateLimit is how many events per second one PagerDuty routing key may
	// send, on average. Default 120.
	RateLimit float64
	// RateBurst is how many events a routing key may send at once. Default 240.
	RateBurst int
	// SignatureWindow is how far a Grafana signature timestamp may be from
	// now. Default 5 minutes.
	SignatureWindow time.Duration
	// TimestampHeader is the header that carries the signature timestamp;
	// Grafana's contact point must be configured to send it. Default
	// X-Grafana-Alerting-Timestamp.
	TimestampHeader string
	// RequireTimestamp refuses Grafana requests without a signature
	// timestamp (replay protection beyond JetStream's duplicate window).
	RequireTimestamp bool
	// AckWait is the ingest consumer's AckWait; zero takes the bus default.
	AckWait time.Duration
}

func (c *Config) setDefaults() {
	if c.RateLimit <= 0 {
		c.RateLimit = 120
	}
	if c.RateBurst <= 0 {
		c.RateBurst = 240
	}
	if c.SignatureWindow <= 0 {
		c.SignatureWindow = 5 * time.Minute
	}
	if c.TimestampHeader == "" {
		c.TimestampHeader = "X-Grafana-Alerting-Timestamp"
	}
}

// Sources serves the alert sources.
type Sources struct {
	svc    *intake.Service
	keys   Keys
	log    *slog.Logger
	cfg    Config
	limits *limiter
}

// New returns the sources publishing through svc and authenticating with keys.
func New(svc *intake.Service, keys Keys, logger *slog.Logger, cfg Config) *Sources {
	cfg.setDefaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Sources{svc: svc, keys: keys, log: logger, cfg: cfg, limits: newLimiter(cfg.RateLimit, cfg.RateBurst)}
}

// actor is who an integration's alerts are attributed to.
func actor(in integration.Integration) events.Actor {
	return events.Actor{Kind: events.ActorIntegration, ID: "integration:" + in.ID, Name: in.Label(), Channel: events.ChannelAPI}
}

// bearer extracts the credentials of "Authorization: Bearer <credentials>".
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}
