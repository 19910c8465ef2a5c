package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net"
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/firebreak-dev/firebreak/internal/fault"
)

// Subscriber errors.
var (
	// ErrSubscriberExists refuses a second subscriber of the same kind,
	// address and service.
	ErrSubscriberExists = fault.New(fault.Conflict, "subscriber_exists", "a subscriber with this kind, address and service exists")
	// ErrNoSubscriberSecret refuses subscriptions while no secret derives
	// unsubscribe tokens (FIREBREAK_NOTIFY_SUBSCRIBER_SECRET).
	ErrNoSubscriberSecret = fault.New(fault.Unavailable, "subscriptions_disabled",
		"subscriptions need a subscriber secret (FIREBREAK_NOTIFY_SUBSCRIBER_SECRET) to sign unsubscribe links")
	// ErrBadUnsubscribeToken is the one answer for an unknown, malformed
	// or already used unsubscribe token.
	ErrBadUnsubscribeToken = fault.New(fault.NotFound, "unknown_token", "this unsubscribe link is not valid or was used already")
)

// Limits of subscriber fields.
const (
	maxEmailLen   = 254
	maxURLLen     = 2000
	maxServiceLen = 200
)

// SubscriberInput is what POST /api/v1/subscribers takes.
type SubscriberInput struct {
	// Kind is "email" or "webhook".
	Kind string `json:"kind"`
	// Address is the email address (kind email) or https URL (kind
	// webhook).
	Address string `json:"address"`
	// Topics: one or more of "status" and "advisories".
	Topics []string `json:"topics"`
	// Service, optional, limits the subscription to one service (status
	// updates) or product/service (advisories).
	Service string `json:"service,omitempty"`
}

// Validate checks the input precisely, naming the field at fault.
func (in SubscriberInput) Validate() error {
	switch in.Kind {
	case SubscriberEmail:
		if err := validateEmail(in.Address); err != nil {
			return err
		}
	case SubscriberWebhook:
		if err := validateWebhookURL(in.Address); err != nil {
			return err
		}
	case "":
		return fault.Field("kind", "is required: email or webhook")
	default:
		return fault.Field("kind", "must be email or webhook, got %q", in.Kind)
	}
	if len(in.Topics) == 0 {
		return fault.Field("topics", "needs at least one of %q and %q", TopicStatus, TopicAdvisories)
	}
	for _, t := range in.Topics {
		if t != TopicStatus && t != TopicAdvisories {
			return fault.Field("topics", "unknown topic %q (topics are %q and %q)", t, TopicStatus, TopicAdvisories)
		}
	}
	if len(in.Service) > maxServiceLen {
		return fault.Field("service", "is longer than %d bytes", maxServiceLen)
	}
	if in.Service != "" && (strings.TrimSpace(in.Service) != in.Service || strings.ContainsFunc(in.Service, unicode.IsControl) || !utf8.ValidString(in.Service)) {
		return fault.Field("service", "must be a service name without surrounding spaces or control characters")
	}
	return nil
}

// validateEmail accepts one bare RFC 5322 address (no display name, no
// group), at most 254 bytes, with a domain that has a dot or is localhost.
func validateEmail(addr string) error {
	if addr == "" {
		return fault.Field("address", "is required: an email address")
	}
	if len(addr) > maxEmailLen {
		return fault.Field("address", "is longer than %d bytes", maxEmailLen)
	}
	a, err := mail.ParseAddress(addr)
	if err != nil || a.Address != addr || a.Name != "" {
		return fault.Field("address", "is not an email address (want a bare address like ops@example.com)")
	}
	at := strings.LastIndexByte(addr, '@')
	domain := addr[at+1:]
	if at <= 0 || domain == "" || strings.ContainsAny(addr, " \t\r\n<>") ||
		(!strings.Contains(domain, ".") && domain != "localhost") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") {
		return fault.Field("address", "is not an email address: the domain %q is not a host name", domain)
	}
	return nil
}

// validateWebhookURL accepts an absolute https URL without credentials or
// fragment; http only to a loopback host (local development).
func validateWebhookURL(raw string) error {
	if raw == "" {
		return fault.Field("address", "is required: an https URL")
	}
	if len(raw) > maxURLLen {
		return fault.Field("address", "is longer than %d bytes", maxURLLen)
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return fault.Field("address", "is not an absolute URL")
	}
	host := u.Hostname()
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopback(host):
	default:
		return fault.Field("address", "must be an https URL (http only to localhost), got scheme %q", u.Scheme)
	}
	if u.User != nil {
		return fault.Field("address", "must not carry credentials (user:password@); webhooks are signed instead")
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return fault.Field("address", "must not have a fragment")
	}
	if host == "" || strings.ContainsFunc(raw, unicode.IsSpace) {
		return fault.Field("address", "is not a valid URL")
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// normalizedTopics returns the distinct topics, sorted.
func normalizedTopics(ts []string) []string {
	out := slices.Clone(ts)
	slices.Sort(out)
	return slices.Compact(out)
}

// tokenLen is the length of an unsubscribe token: base64url of a SHA-256
// MAC without padding.
const tokenLen = 43

// unsubscribeToken derives a subscriber's unsubscribe token from the
// secret: it is never stored (only its hash), yet every message can carry
// it. Rotating the secret invalidates the links already sent.
func (s *Service) unsubscribeToken(id string) string {
	m := hmac.New(sha256.New, []byte(s.cfg.SubscriberSecret))
	m.Write([]byte("firebreak-unsubscribe\x00" + id))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func hashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// unsubscribeURL is the link a message to subscriber id carries: absolute
// under PublicURL, else a path.
func (s *Service) unsubscribeURL(id string) string {
	return strings.TrimSuffix(s.cfg.PublicURL, "/") + "/unsubscribe?token=" + s.unsubscribeToken(id)
}

// Subscribe stores a new subscriber and returns it with its unsubscribe
// link. Errors: an Invalid fault naming the field, ErrSubscriberExists,
// ErrNoSubscriberSecret.
func (s *Service) Subscribe(ctx context.Context, in SubscriberInput) (Subscriber, string, error) {
	if err := in.Validate(); err != nil {
		return Subscriber{}, "", err
	}
	if s.cfg.SubscriberSecret == "" {
		return Subscriber{}, "", ErrNoSubscriberSecret
	}
	sub := Subscriber{ID: "sub-" + uuid.Must(uuid.NewV7()).String(), Kind: in.Kind, Address: in.Address,
		Topics: normalizedTopics(in.Topics), Service: in.Service, CreatedAt: s.cfg.Now().UTC().Truncate(time.Microsecond)}
	sub.TokenHash = hashToken(s.unsubscribeToken(sub.ID))
	err := s.store.InTx(ctx, func(tx Tx) error { return tx.SubscriberCreate(ctx, sub) })
	if errors.Is(err, ErrConflict) {
		return Subscriber{}, "", fault.Wrap(ErrSubscriberExists, "a %s subscriber for this address and service %q exists already", in.Kind, in.Service)
	}
	if err != nil {
		return Subscriber{}, "", err
	}
	s.log.Info("subscriber added", "subscriber", sub.ID, "kind", sub.Kind, "topics", sub.Topics, "service", sub.Service)
	return sub, s.unsubscribeURL(sub.ID), nil
}

// Subscribers lists the subscribers, oldest first.
func (s *Service) Subscribers(ctx context.Context) ([]Subscriber, error) {
	return s.store.SubscriberList(ctx)
}

// RemoveSubscriber deletes a subscriber by id. Errors: ErrNotFound.
func (s *Service) RemoveSubscriber(ctx context.Context, id string) error {
	var deleted bool
	err := s.store.InTx(ctx, func(tx Tx) error {
		var err error
		deleted, err = tx.SubscriberDelete(ctx, id)
		return err
	})
	if err != nil {
		return err
	}
	if !deleted {
		return fault.Wrap(ErrNotFound, "no subscriber %s", id)
	}
	s.log.Info("subscriber removed", "subscriber", id)
	return nil
}

// lookupToken finds the subscriber of an unsubscribe token: by the
// token's hash, confirmed with a constant-time compare. Errors:
// ErrBadUnsubscribeToken, an Invalid fault for a malformed token.
func lookupToken(ctx context.Context, tx Tx, token string) (Subscriber, error) {
	if len(token) != tokenLen || strings.ContainsFunc(token, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_')
	}) {
		return Subscriber{}, fault.Field("token", "is not an unsubscribe token")
	}
	h := hashToken(token)
	sub, err := tx.SubscriberGetByTokenHash(ctx, h)
	if errors.Is(err, ErrNotFound) {
		return Subscriber{}, ErrBadUnsubscribeToken
	}
	if err != nil {
		return Subscriber{}, err
	}
	if subtle.ConstantTimeCompare([]byte(sub.TokenHash), []byte(h)) != 1 {
		return Subscriber{}, ErrBadUnsubscribeToken
	}
	return sub, nil
}

// CheckUnsubscribeToken reports whether token names a subscriber (the
// confirmation page asks before it unsubscribes: mail scanners follow
// links). Errors as Unsubscribe.
func (s *Service) CheckUnsubscribeToken(ctx context.Context, token string) error {
	return s.store.InTx(ctx, func(tx Tx) error {
		_, err := lookupToken(ctx, tx, token)
		return err
	})
}

// Unsubscribe deletes the subscriber of an unsubscribe token; messages not
// yet sent to it are dropped at their next attempt. Errors:
// ErrBadUnsubscribeToken, an Invalid fault for a malformed token.
func (s *Service) Unsubscribe(ctx context.Context, token string) error {
	var id string
	err := s.store.InTx(ctx, func(tx Tx) error {
		sub, err := lookupToken(ctx, tx, token)
		if err != nil {
			return err
		}
		id = sub.ID
		_, err = tx.SubscriberDelete(ctx, sub.ID)
		return err
	})
	if err != nil {
		return err
	}
	s.log.Info("subscriber unsubscribed", "subscriber", id)
	return nil
}

// matches reports whether sub follows topic for an update about service
// or product.
func (sub Subscriber) matches(topic string, services ...string) bool {
	if !slices.Contains(sub.Topics, topic) {
		return false
	}
	if sub.Service == "" {
		return true
	}
	for _, sv := range services {
		if sv != "" && sv == sub.Service {
			return true
		}
	}
	return false
}
