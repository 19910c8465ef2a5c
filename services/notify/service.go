package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/fault"
	"github.com/firebreak-dev/firebreak/internal/timer"
)

// Config tunes the service. Zero values take the defaults in the comments.
type Config struct {
	// SMTP configures the email provider.
	SMTP SMTPConfig
	// WebhookSecret signs webhook bodies (FIREBREAK_WEBHOOK_SECRET);
	// WebhookSecrets gives single webhook URLs a secret of their own.
	// Without either, webhooks go out unsigned.
	WebhookSecret  string
	WebhookSecrets map[string]string
	// HTTPClient posts webhooks and Teams cards. Default: a client that
	// follows no redirects, with a 30 s timeout.
	HTTPClient *http.Client
	// MaxAttempts bounds the attempts of one delivery. Default 5.
	MaxAttempts int
	// BackoffMin is the wait after the first failed attempt; each further
	// failure doubles it, up to BackoffMax, and the wait is jittered
	// between half and all of it. Defaults 5s and 10m.
	BackoffMin time.Duration
	BackoffMax time.Duration
	// SendTimeout bounds one attempt. Default 15s.
	SendTimeout time.Duration
	// PublicURL is the API's public base URL, for links to the incident in
	// messages (and to the status feed and unsubscribe page in messages to
	// subscribers); empty sends no links.
	PublicURL string
	// SubscriberSecret derives the unsubscribe tokens of subscribers
	// (FIREBREAK_NOTIFY_SUBSCRIBER_SECRET); without it subscriptions are
	// refused. Changing it invalidates the unsubscribe links already sent.
	SubscriberSecret string
	// AckWait is how long JetStream waits for an acknowledgement. 0 means
	// the bus default.
	AckWait time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// OnCommit is called after each transaction that wrote to the outbox;
	// OnTimer after each that scheduled a timer.
	OnCommit func()
	OnTimer  func()
	// Jitter returns a number in [0, 1) for backoff jitter. Default
	// math/rand/v2.Float64.
	Jitter func() float64
}

func (c *Config) setDefaults() {
	if c.MaxAttempts == 0 {
		c.MaxAttempts = 5
	}
	if c.BackoffMin == 0 {
		c.BackoffMin = 5 * time.Second
	}
	if c.BackoffMax == 0 {
		c.BackoffMax = 10 * time.Minute
	}
	if c.SendTimeout == 0 {
		c.SendTimeout = 15 * time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.OnCommit == nil {
		c.OnCommit = func() {}
	}
	if c.OnTimer == nil {
		c.OnTimer = func() {}
	}
	if c.Jitter == nil {
		c.Jitter = rand.Float64
	}
}

// Validate reports configuration errors.
func (c Config) Validate() error {
	switch {
	case c.MaxAttempts < 0 || c.MaxAttempts > 100:
		return fmt.Errorf("notify: max attempts must be 1 to 100, got %d", c.MaxAttempts)
	case c.BackoffMin < 0 || c.BackoffMax < 0 || (c.BackoffMax > 0 && c.BackoffMin > c.BackoffMax):
		return fmt.Errorf("notify: backoff %s..%s is not a range", c.BackoffMin, c.BackoffMax)
	case c.SendTimeout < 0:
		return fmt.Errorf("notify: send timeout %s is negative", c.SendTimeout)
	}
	return c.SMTP.Validate()
}

// watchdogGrace is how long after an attempt's timeout its watchdog timer
// fires, should the process die before it recorded the outcome.
const watchdogGrace = 30 * time.Second

// maxReason bounds a stored failure reason.
const maxReason = 1000

// Service delivers pages.
type Service struct {
	store     Store
	providers map[string]Provider
	log       *slog.Logger
	cfg       Config
}

// New returns the service over store. providers are keyed by their Name;
// a page for a provider missing here fails as unsupported.
func New(store Store, providers []Provider, logger *slog.Logger, cfg Config) (*Service, error) {
	if store == nil {
		return nil, errors.New("notify: nil store")
	}
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Service{store: store, providers: map[string]Provider{}, log: logger, cfg: cfg}
	for _, p := range providers {
		if p != nil {
			s.providers[p.Name()] = p
		}
	}
	return s, nil
}

// providerFor names the provider of a page: Slack for channel and user
// group targets, else the contact method's type.
func providerFor(p events.PageRequested) string {
	switch {
	case p.Channel != "" || p.UserGroup != "":
		return events.ProviderSlack
	case p.ContactMethod != nil:
		return p.ContactMethod.Type
	}
	return ""
}

func targetOf(p events.PageRequested) string {
	switch {
	case p.Channel != "":
		return "channel:" + p.Channel
	case p.UserGroup != "":
		return "usergroup:" + p.UserGroup
	case p.User != "":
		return "user:" + p.User
	}
	return p.Target.Type + ":" + p.Target.ID
}

// DeliveryKey is the idempotency key of a page's delivery: the page's own
// key (incident, level, user or channel, contact method) and the provider.
// A page without a key is keyed by incident, event and target.
func DeliveryKey(env events.Envelope, p events.PageRequested) string {
	base := p.IdempotencyKey
	if base == "" {
		base = p.IncidentID + "/" + env.ID + "/" + targetOf(p)
	}
	return base + "|" + providerFor(p)
}

// HandlePage accepts one page.requested: in one transaction it records the
// message as processed, stores the delivery unless one with its key exists,
// and schedules its first attempt at once (or, for a contact method no
// provider delivers, records it failed and emits notification.failed).
// Handling a page twice, or two pages with one key, delivers once.
func (s *Service) HandlePage(ctx context.Context, env events.Envelope) error {
	if env.Type != events.TypePageRequested {
		return nil
	}
	var p events.PageRequested
	if err := env.DecodeData(&p); err != nil {
		return fault.Wrap(ErrInvalid, "%s %s: %v", env.Type, env.ID, err)
	}
	if p.IncidentID == "" {
		return fault.Wrap(ErrInvalid, "%s %s: no incident_id", env.Type, env.ID)
	}
	now := s.cfg.Now().UTC()
	prov := providerFor(p)
	d := Delivery{
		Key: DeliveryKey(env, p), IncidentID: p.IncidentID, Number: p.Number, EventID: env.ID,
		CorrelationID: env.CorrelationID, Provider: prov, Target: targetOf(p), Status: StatusPending,
		Page: p, CreatedAt: now, UpdatedAt: now, NextAttemptAt: now,
	}
	if p.ContactMethod != nil {
		d.ContactMethod = p.ContactMethod.Name
	}
	if prov == "" {
		d.Provider = "none"
	}
	unsupported := ""
	if _, ok := s.providers[prov]; !ok {
		switch prov {
		case events.ProviderSlack:
			unsupported = "unsupported: Slack is not configured (FIREBREAK_SLACK_BOT_TOKEN)"
		case events.ProviderEmail:
			unsupported = "unsupported: email is not configured (FIREBREAK_SMTP_HOST)"
		case "":
			unsupported = "unsupported: page has no contact method or channel"
		default:
			unsupported = fmt.Sprintf("unsupported: contact method type %q is not delivered", prov)
		}
		d.Status, d.Reason, d.NextAttemptAt = StatusFailed, unsupported, time.Time{}
	}
	var emitted, scheduled bool
	err := s.store.InTx(ctx, func(tx Tx) error {
		emitted, scheduled = false, false
		first, err := tx.MarkProcessed(ctx, ConsumerPages, env.ID)
		if err != nil || !first {
			return err
		}
		created, err := tx.DeliveryCreate(ctx, d)
		if err != nil || !created {
			return err
		}
		if unsupported != "" {
			emitted = true
			return s.emitOutcome(ctx, tx, d, now)
		}
		scheduled = true
		return tx.ScheduleTimer(ctx, timer.Timer{Kind: TimerDeliver, Key: d.Key, DueAt: now, CreatedAt: now})
	})
	if err != nil {
		return err
	}
	if unsupported != "" && emitted {
		s.log.Warn("page not delivered", "incident", p.IncidentID, "target", d.Target, "reason", unsupported)
	}
	s.poke(emitted, scheduled)
	return nil
}

func (s *Service) poke(emitted, scheduled bool) {
	if emitted {
		s.cfg.OnCommit()
	}
	if scheduled {
		s.cfg.OnTimer()
	}
}

// HandleTimer runs one delivery attempt (a timer.Handler). In a first
// transaction it deletes the timer, marks the delivery sending, counts the
// attempt and schedules a watchdog that retries should this process die
// before recording the outcome; then it calls the provider; in a second
// transaction it records the outcome: sent, retrying (a timer at the
// backoff, or at least Retry-After) or failed, with notification.sent or
// notification.failed in the outbox.
func (s *Service) HandleTimer(ctx context.Context, t timer.Timer) error {
	if t.Kind != TimerDeliver {
		return fmt.Errorf("notify: unknown timer kind %q", t.Kind)
	}
	var (
		d             Delivery
		send, emitted bool
	)
	now := s.cfg.Now().UTC()
	err := s.store.FireTimer(ctx, t, func(tx Tx) error {
		send, emitted = false, false
		cur, err := tx.DeliveryGet(ctx, t.Key)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		switch cur.Status {
		case StatusSent, StatusFailed:
			return nil
		case StatusSending:
			// The process that made attempt cur.Attempts died before it
			// recorded the outcome; whether the provider got the page is
			// unknown. Paging errs on the side of sending again.
			s.log.Warn("delivery attempt interrupted; outcome unknown, trying again",
				"delivery", cur.Key, "attempt", cur.Attempts)
			if cur.Attempts >= s.cfg.MaxAttempts {
				next := cur
				next.Status, next.UpdatedAt, next.NextAttemptAt = StatusFailed, now, time.Time{}
				next.Reason = truncate(fmt.Sprintf("attempt %d interrupted, outcome unknown; no attempts left", cur.Attempts))
				if err := tx.DeliveryUpdate(ctx, next, cur.Status, cur.Attempts); err != nil {
					return err
				}
				emitted = true
				return s.emitOutcome(ctx, tx, next, now)
			}
		}
		next := cur
		next.Status, next.Attempts, next.UpdatedAt, next.NextAttemptAt = StatusSending, cur.Attempts+1, now, time.Time{}
		if err := tx.DeliveryUpdate(ctx, next, cur.Status, cur.Attempts); err != nil {
			return err
		}
		watchdog := timer.Timer{Kind: TimerDeliver, Key: cur.Key, DueAt: now.Add(s.cfg.SendTimeout + watchdogGrace), CreatedAt: now}
		if err := tx.ScheduleTimer(ctx, watchdog); err != nil {
			return err
		}
		d, send = next, true
		return nil
	})
	if errors.Is(err, timer.ErrGone) {
		return nil
	}
	if err != nil {
		return err
	}
	s.poke(emitted, false)
	if !send {
		return nil
	}
	serr := s.attempt(ctx, d)
	// The outcome is recorded even when ctx ended during the attempt
	// (shutdown): a retry is then scheduled instead of waiting for the
	// watchdog.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return s.record(rctx, d, serr)
}

func (s *Service) attempt(ctx context.Context, d Delivery) error {
	p, ok := s.providers[d.Provider]
	if !ok {
		return Permanent(fmt.Errorf("%w: provider %s is not configured", ErrUnsupported, d.Provider))
	}
	m := Message{Key: d.Key, Page: d.Page, Attempt: d.Attempts, Notice: d.Notice}
	if d.Notice != nil && d.Notice.SubscriberID != "" {
		// Whoever unsubscribed after the event gets nothing more.
		if _, err := s.store.SubscriberGet(ctx, d.Notice.SubscriberID); errors.Is(err, ErrNotFound) {
			return Permanent(errors.New("subscriber unsubscribed"))
		} else if err != nil {
			return err
		}
		m.Unsubscribe = s.unsubscribeURL(d.Notice.SubscriberID)
	}
	if s.cfg.PublicURL != "" && d.Notice == nil {
		m.URL = strings.TrimSuffix(s.cfg.PublicURL, "/") + "/api/v1/incidents/" + d.IncidentID
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.SendTimeout)
	defer cancel()
	return p.Send(ctx, m)
}

// record stores an attempt's outcome, provided nobody (a watchdog after a
// very slow attempt) took the delivery over meanwhile.
func (s *Service) record(ctx context.Context, d Delivery, serr error) error {
	now := s.cfg.Now().UTC()
	var emitted, scheduled bool
	var next Delivery
	err := s.store.InTx(ctx, func(tx Tx) error {
		emitted, scheduled = false, false
		cur, err := tx.DeliveryGet(ctx, d.Key)
		if err != nil {
			return err
		}
		if cur.Status != StatusSending || cur.Attempts != d.Attempts {
			s.log.Warn("delivery outcome dropped: another attempt took over", "delivery", d.Key, "attempt", d.Attempts)
			return nil
		}
		next = cur
		next.UpdatedAt, next.NextAttemptAt = now, time.Time{}
		switch {
		case serr == nil:
			next.Status, next.Reason, next.SentAt = StatusSent, "", now
		case IsPermanent(serr) || cur.Attempts >= s.cfg.MaxAttempts:
			next.Status = StatusFailed
			next.Reason = truncate(fmt.Sprintf("%v (%s)", serr, attemptsText(cur.Attempts)))
		default:
			next.Status, next.Reason = StatusRetrying, truncate(serr.Error())
			next.NextAttemptAt = now.Add(s.backoff(cur.Attempts, retryAfterOf(serr)))
		}
		if err := tx.DeliveryUpdate(ctx, next, StatusSending, cur.Attempts); err != nil {
			return err
		}
		if next.Status == StatusRetrying {
			scheduled = true
			return tx.ScheduleTimer(ctx, timer.Timer{Kind: TimerDeliver, Key: d.Key, DueAt: next.NextAttemptAt, CreatedAt: now})
		}
		if _, err := tx.CancelTimer(ctx, TimerDeliver, d.Key); err != nil {
			return err
		}
		emitted = true
		return s.emitOutcome(ctx, tx, next, now)
	})
	if err != nil {
		return fmt.Errorf("record delivery %s: %w", d.Key, err)
	}
	switch {
	case !emitted && !scheduled:
	case next.Status == StatusSent:
		s.log.Info("page delivered", "incident", d.IncidentID, "provider", d.Provider, "target", d.Target, "attempts", next.Attempts)
	case next.Status == StatusFailed:
		s.log.Warn("page failed", "incident", d.IncidentID, "provider", d.Provider, "target", d.Target, "attempts", next.Attempts, "reason", next.Reason)
	default:
		s.log.Info("page attempt failed; retrying", "incident", d.IncidentID, "provider", d.Provider, "target", d.Target,
			"attempt", next.Attempts, "next", next.NextAttemptAt, "reason", next.Reason)
	}
	s.poke(emitted, scheduled)
	return nil
}

func attemptsText(n int) string {
	if n == 1 {
		return "1 attempt"
	}
	return fmt.Sprintf("%d attempts", n)
}

func truncate(s string) string {
	if len(s) <= maxReason {
		return s
	}
	return strings.ToValidUTF8(s[:maxReason], "")
}

// backoff is the wait after failed attempt n (from 1): BackoffMin doubled
// n-1 times, capped at BackoffMax, jittered to between half and all of it;
// never less than a rate limit's Retry-After.
func (s *Service) backoff(n int, retryAfter time.Duration) time.Duration {
	d := s.cfg.BackoffMin
	for i := 1; i < n && d < s.cfg.BackoffMax; i++ {
		d *= 2
	}
	d = min(d, s.cfg.BackoffMax)
	d = d/2 + time.Duration(s.cfg.Jitter()*float64(d/2))
	return max(d, retryAfter)
}

// emitOutcome writes notification.sent or notification.failed for d. A
// notice (not a page) has no such event: its outcome is its delivery row.
func (s *Service) emitOutcome(ctx context.Context, tx Tx, d Delivery, now time.Time) error {
	if d.Notice != nil {
		return nil
	}
	sent := events.NotificationSent{
		IncidentID: d.IncidentID, Number: d.Number, DeliveryKey: d.Key, PageKey: d.Page.IdempotencyKey,
		Provider: d.Provider, Level: d.Page.Level, User: d.Page.User, ContactMethod: d.ContactMethod,
		Channel: d.Page.Channel, Attempts: d.Attempts,
	}
	if sent.PageKey == "" {
		sent.PageKey = d.Key
	}
	typ, data := events.TypeNotificationSent, any(sent)
	if d.Status == StatusFailed {
		typ, data = events.TypeNotificationFailed, events.NotificationFailed{
			NotificationSent: sent, Reason: d.Reason, RuleDelayMinutes: d.Page.RuleDelayMinutes,
		}
	}
	env, err := events.New(typ, Name, d.IncidentID, events.System(Name), data, events.At(now),
		events.CausedBy(events.Envelope{ID: d.EventID, CorrelationID: d.CorrelationID}))
	if err != nil {
		return err
	}
	return tx.Emit(ctx, env)
}

// Deliveries returns an incident's deliveries, by id or by reference
// ("INC-42" or "42"), oldest first.
func (s *Service) Deliveries(ctx context.Context, ref string) ([]Delivery, error) {
	if n, ok := parseNumber(ref); ok {
		return s.store.DeliveryList(ctx, "", n)
	}
	return s.store.DeliveryList(ctx, ref, 0)
}

// parseNumber reads "INC-42", "inc-42" or "42".
func parseNumber(ref string) (int64, bool) {
	r := ref
	if len(r) > 4 && strings.EqualFold(r[:4], "INC-") {
		r = r[4:]
	}
	if r == "" || len(r) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range r {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, n > 0
}
