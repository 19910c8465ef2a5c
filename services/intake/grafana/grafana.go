// Package grafana verifies and decodes Grafana Alerting webhook
// notifications. The payload is Alertmanager's grouped notification
// extended by Grafana, so it is normalized into the alertmanager package's
// Group and follows the same incident model (one incident per group,
// alerts tracked by fingerprint).
//
// Sources: the payload is grafana/alerting receivers/webhook/v1 webhook.go
// (webhookMessage: *templates.ExtendedData plus version "1", groupKey,
// truncatedAlerts, orgId, title, state, message) and templates.ExtendedAlert;
// grafana/grafana docs/sources/alerting/configure-notifications/
// manage-contact-points/integrations/webhook-notifier.md has the example in
// testdata. The signature is grafana/alerting http/hmac.go (HMACRoundTripper).
package grafana

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/fault"
	"github.com/firebreak-dev/firebreak/services/intake/alertmanager"
)

// Integration names the source of alerts decoded here in alert.received.
const Integration = "grafana"

// Version is the webhook payload version Grafana sends.
const Version = "1"

// Header names. Grafana's signature header is configurable and defaults to
// SignatureHeader; the timestamp header has no default: Grafana only sends
// (and signs) a timestamp when the contact point names a header for it.
const (
	SignatureHeader = "X-Grafana-Alerting-Signature"
)

// Signature errors. They are fault.Unauthorized and never include the
// expected signature.
var (
	ErrNoSignature   = fault.New(fault.Unauthorized, "signature_missing", "the request is not signed: the "+SignatureHeader+" header is missing")
	ErrBadSignature  = fault.New(fault.Unauthorized, "signature_invalid", "the signature does not match the body")
	ErrBadTimestamp  = fault.New(fault.Unauthorized, "timestamp_invalid", "the signature timestamp is not a Unix time in seconds")
	ErrStale         = fault.New(fault.Unauthorized, "timestamp_stale", "the signature timestamp is too old: the request may be a replay")
	ErrFuture        = fault.New(fault.Unauthorized, "timestamp_future", "the signature timestamp is in the future")
	ErrNoTimestamp   = fault.New(fault.Unauthorized, "timestamp_missing", "the signature has no timestamp, but one is required")
	errNoSecret      = errors.New("grafana: empty HMAC secret")
	errNegativeRange = errors.New("grafana: negative replay window")
)

// Verify checks a request's HMAC-SHA256 signature as Grafana makes it: the
// lowercase hex HMAC of the body, or of timestamp + ":" + body when a
// timestamp header is configured, the timestamp being Unix seconds
// (strconv.FormatInt(clk.Now().Unix(), 10) in hmac.go).
//
// With a timestamp the request must also fall within window of now, either
// way; window 0 means any age is accepted. A caller that requires replay
// protection passes a zero-length timestamp only when its configuration has
// no timestamp header, and checks that itself (see RequireTimestamp).
//
// The comparison is constant-time; errors say what is wrong but never what
// was expected.
func Verify(secret, body []byte, signature, timestamp string, now time.Time, window time.Duration) error {
	if len(secret) == 0 {
		return errNoSecret
	}
	if window < 0 {
		return errNegativeRange
	}
	signature = strings.TrimSpace(signature)
	if signature == "" {
		return ErrNoSignature
	}
	got, err := hex.DecodeString(signature)
	if err != nil || len(got) != sha256.Size {
		return fault.Wrap(ErrBadSignature, "the signature is not a hex HMAC-SHA256 (64 hex digits)")
	}
	mac := hmac.New(sha256.New, secret)
	timestamp = strings.TrimSpace(timestamp)
	if timestamp != "" {
		ts, err := strconv.ParseInt(timestamp, 10, 64)
		if err != nil {
			return ErrBadTimestamp
		}
		if ts > 1e11 {
			return fault.Wrap(ErrBadTimestamp, "the signature timestamp %s looks like milliseconds; Grafana sends Unix seconds", timestamp)
		}
		// Check the signature before the clock, so that a stale or future
		// error is only given to a holder of the secret.
		mac.Write([]byte(timestamp))
		mac.Write([]byte(":"))
		mac.Write(body)
		if !hmac.Equal(mac.Sum(nil), got) {
			return ErrBadSignature
		}
		if window > 0 {
			at := time.Unix(ts, 0)
			switch age := now.Sub(at); {
			case age > window:
				return fault.Wrap(ErrStale, "the signature timestamp is %s old, more than the %s allowed: the request may be a replay", age.Truncate(time.Second), window)
			case -age > window:
				return fault.Wrap(ErrFuture, "the signature timestamp is %s in the future, more than the %s allowed", (-age).Truncate(time.Second), window)
			}
		}
		return nil
	}
	mac.Write(body)
	if !hmac.Equal(mac.Sum(nil), got) {
		return ErrBadSignature
	}
	return nil
}

// RequireTimestamp is ErrNoTimestamp when timestamp is empty: for a contact
// point configured with a timestamp header, whose requests must carry it.
func RequireTimestamp(timestamp string) error {
	if strings.TrimSpace(timestamp) == "" {
		return ErrNoTimestamp
	}
	return nil
}

// Sign returns Grafana's signature of body (for tests and for the
// firebreak CLI's test sender).
func Sign(secret, body []byte, timestamp string) string {
	mac := hmac.New(sha256.New, secret)
	if timestamp != "" {
		mac.Write([]byte(timestamp + ":"))
	}
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// Notification is the Grafana webhook payload.
type Notification struct {
	Receiver          string            `json:"receiver"`
	Status            string            `json:"status"`
	OrgID             int64             `json:"orgId"`
	Alerts            []Alert           `json:"alerts"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   uint64            `json:"truncatedAlerts"`
	// Title, State and Message are marked "Will be deprecated soon" by
	// Grafana; State is "alerting" or "ok".
	Title   string `json:"title"`
	State   string `json:"state"`
	Message string `json:"message"`
}

// Alert is one alert of a Grafana notification.
type Alert struct {
	Status       string             `json:"status"`
	Labels       map[string]string  `json:"labels"`
	Annotations  map[string]string  `json:"annotations"`
	StartsAt     time.Time          `json:"startsAt"`
	EndsAt       time.Time          `json:"endsAt"`
	GeneratorURL string             `json:"generatorURL"`
	Fingerprint  string             `json:"fingerprint"`
	SilenceURL   string             `json:"silenceURL"`
	DashboardURL string             `json:"dashboardURL"`
	PanelURL     string             `json:"panelURL"`
	Values       map[string]float64 `json:"values"`
	ValueString  string             `json:"valueString"`
	ImageURL     string             `json:"imageURL,omitempty"`
}

// Decode parses and validates a Grafana webhook notification. Unknown
// fields are ignored: Grafana adds them between releases (ruleUID,
// per-alert orgId, enrichments) without changing the version. A payload
// templated by the contact point is not this format and is refused.
func Decode(body []byte) (Notification, error) {
	var n Notification
	if err := alertmanager.DecodeLenient(body, &n); err != nil {
		return Notification{}, err
	}
	if n.Version != Version {
		if n.Version == "" {
			return Notification{}, fault.Field("version", "is required; Grafana webhooks send \"1\" (a custom payload template is not supported)")
		}
		return Notification{}, fault.Field("version", "must be %q, got %q: only the Grafana webhook payload version 1 is understood", Version, n.Version)
	}
	if err := n.Group().Validate(); err != nil {
		return Notification{}, err
	}
	return n, nil
}

// GroupDedupKey is the dedup key of the group's incident: a stable hash of
// (orgId, receiver, groupKey); Grafana's group keys are per organization.
func (n Notification) GroupDedupKey() string {
	return alertmanager.DedupKey("grafana", strconv.FormatInt(n.OrgID, 10), n.Receiver, n.GroupKey)
}

// Group returns the normalized view of n. Grafana's per-alert extras
// (values, silence, dashboard, panel and image URLs) go into the details;
// orgId is part of the content hash.
func (n Notification) Group() alertmanager.Group {
	g := alertmanager.Group{
		Integration: Integration, DedupKey: n.GroupDedupKey(), Version: n.Version,
		Receiver: n.Receiver, GroupKey: n.GroupKey, Status: n.Status, TruncatedAlerts: n.TruncatedAlerts,
		GroupLabels: n.GroupLabels, CommonLabels: n.CommonLabels, CommonAnnotations: n.CommonAnnotations,
		ExternalURL: n.ExternalURL, HashExtra: map[string]string{"orgId": strconv.FormatInt(n.OrgID, 10)},
	}
	for _, a := range n.Alerts {
		extra := map[string]any{}
		for k, v := range map[string]string{"silenceURL": a.SilenceURL, "dashboardURL": a.DashboardURL,
			"panelURL": a.PanelURL, "imageURL": a.ImageURL, "valueString": a.ValueString} {
			if v != "" {
				extra[k] = v
			}
		}
		if len(a.Values) > 0 {
			extra["values"] = a.Values
		}
		g.Alerts = append(g.Alerts, alertmanager.Alert{
			Status: a.Status, Labels: a.Labels, Annotations: a.Annotations, StartsAt: a.StartsAt,
			EndsAt: a.EndsAt, GeneratorURL: a.GeneratorURL, Fingerprint: a.Fingerprint, Extra: extra,
		})
	}
	return g
}

// ContentHash identifies the notification's content, for JetStream's
// Nats-Msg-Id (see alertmanager.Group.ContentHash). Left out, besides
// externalURL: the per-alert values, valueString, image and silence URLs
// and the templated title and message, which depend on the evaluation or
// the instance rather than on the alert's identity. Grafana HA instances
// evaluate rules independently, so their startsAt may differ too; such
// copies hash differently and are deduplicated by the group's dedup key
// instead.
func (n Notification) ContentHash() string { return n.Group().ContentHash() }

// Received is the group-level alert.received data for service.
func (n Notification) Received(service string, at time.Time) events.AlertReceived {
	return n.Group().Received(service, at)
}

// ContentHash decodes body and returns its content hash.
func ContentHash(body []byte) (string, error) {
	n, err := Decode(body)
	if err != nil {
		return "", fmt.Errorf("grafana content hash: %w", err)
	}
	return n.ContentHash(), nil
}
