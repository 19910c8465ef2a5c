package httpapi

import (
	"container/list"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/firebreak-dev/firebreak/events"
)

// SecuritySource is the envelope source of the security events the API
// emits (auth.denied, token.used).
const SecuritySource = "httpapi"

// AnonymousActor is the actor of a denial no valid token stands behind.
var AnonymousActor = events.Actor{Kind: events.ActorSystem, ID: "anonymous", Channel: events.ChannelAPI}

// maxUserAgent is how many characters of a User-Agent an event keeps.
const maxUserAgent = 256

// SecurityConfig configures SecurityEvents. Zero values take the defaults
// in the comments.
type SecurityConfig struct {
	// Publish stores an event on the bus; it returns once the bus has it.
	// Required. Only Run calls it, never a request.
	Publish func(ctx context.Context, env events.Envelope) error
	// TokenID returns the id of a bearer token, "" when the string names
	// no token. The id is not secret (token listings show it). Default:
	// no ids known.
	TokenID func(bearer string) string
	// DeniedWindow: at most one auth.denied event per key (token or remote
	// address, route, reason) per window. Default one minute.
	DeniedWindow time.Duration
	// UsedInterval: at most one token.used event per token per interval.
	// Default one hour.
	UsedInterval time.Duration
	// MaxDeniedKeys bounds the denial throttle's table; when it is full of
	// keys still in their window, a new key's denials are counted per
	// route and reason instead (events marked overflow). Default 1024.
	MaxDeniedKeys int
	// MaxTokens bounds the token-use table; when it is full the token
	// reported longest ago is reported (if it has uses held back) and
	// forgotten. Default 10000.
	MaxTokens int
	// QueueSize bounds the events waiting for Run to publish them; when it
	// is full an event is dropped, counted and logged. Default 1024.
	QueueSize int
	// PublishTimeout bounds one publication. Default five seconds.
	PublishTimeout time.Duration
	// SweepInterval is how often Run reports what the throttles held back
	// once a key's window is over. Default DeniedWindow.
	SweepInterval time.Duration
	// Now is the clock of the windows and the events' times. Default
	// time.Now.
	Now func() time.Time
}

func (c *SecurityConfig) setDefaults() {
	if c.TokenID == nil {
		c.TokenID = func(string) string { return "" }
	}
	if c.DeniedWindow <= 0 {
		c.DeniedWindow = time.Minute
	}
	if c.UsedInterval <= 0 {
		c.UsedInterval = time.Hour
	}
	if c.MaxDeniedKeys <= 0 {
		c.MaxDeniedKeys = 1024
	}
	if c.MaxTokens <= 0 {
		c.MaxTokens = 10000
	}
	if c.QueueSize <= 0 {
		c.QueueSize = 1024
	}
	if c.PublishTimeout <= 0 {
		c.PublishTimeout = 5 * time.Second
	}
	if c.SweepInterval <= 0 {
		c.SweepInterval = c.DeniedWindow
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// maxOverflowKeys bounds the overflow table (keyed by route and reason,
// so in practice it holds a few entries per route).
const maxOverflowKeys = 4096

// SecurityEvents turns refused requests and token uses into throttled
// auth.denied and token.used events. The request path only records and
// queues (no I/O); Run publishes. Attach it with Server.SetSecurityEvents.
type SecurityEvents struct {
	cfg    SecurityConfig
	logger *slog.Logger

	mu       sync.Mutex
	denied   *throttle
	overflow *throttle
	used     *throttle

	queue   chan events.Envelope
	dropped atomic.Int64

	deniedTotal *prometheus.CounterVec
	outcomes    *prometheus.CounterVec
}

// NewSecurityEvents returns a recorder that publishes through
// cfg.Publish, registering its metrics on reg (when not nil).
func NewSecurityEvents(logger *slog.Logger, reg prometheus.Registerer, cfg SecurityConfig) (*SecurityEvents, error) {
	if cfg.Publish == nil {
		return nil, errors.New("httpapi: security events need a Publish function")
	}
	cfg.setDefaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &SecurityEvents{
		cfg:      cfg,
		logger:   logger,
		denied:   newThrottle(cfg.DeniedWindow, cfg.MaxDeniedKeys),
		overflow: newThrottle(cfg.DeniedWindow, maxOverflowKeys),
		used:     newThrottle(cfg.UsedInterval, cfg.MaxTokens),
		queue:    make(chan events.Envelope, cfg.QueueSize),
		deniedTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "firebreak_http_auth_denied_total",
			Help: "Requests refused by authentication (401) or authorization (403), by reason; every one, reported or not.",
		}, []string{"reason"}),
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "firebreak_security_events_total",
			Help: "Security events (auth.denied, token.used) by type and outcome: published, failed (the bus refused) or dropped (queue full).",
		}, []string{"type", "outcome"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{s.deniedTotal, s.outcomes} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return s, nil
}

// SetSecurityEvents makes the server report refused requests and token
// uses to se. Call it before serving.
func (s *Server) SetSecurityEvents(se *SecurityEvents) { s.security = se }

// occurrence is one refused request or token use, ready to become the
// event that reports it.
type occurrence struct {
	typ       string
	subject   string
	actor     events.Actor
	at        time.Time
	requestID string
	denied    events.AuthDenied
	used      events.TokenUsed
}

// envelope is the event reporting o and others more occurrences of its
// key that were held back.
func (o occurrence) envelope(others int) (events.Envelope, error) {
	var data any
	switch o.typ {
	case events.TypeAuthDenied:
		d := o.denied
		d.Suppressed = others
		data = d
	default:
		u := o.used
		u.Uses = 1 + others
		data = u
	}
	return events.New(o.typ, SecuritySource, o.subject, o.actor, data, events.At(o.at), events.WithCorrelation(o.requestID))
}

// report is an occurrence to publish and how many others it stands for.
type report struct {
	occ    occurrence
	others int
}

// denial is one refused request as deny records it.
type denial struct {
	route, scope string
	// tok is the presented bearer token (only its id is kept).
	tok    string
	reason string
	status int
	// integration is the integration the request named (Denial.Integration).
	integration string
	// p is the principal of a valid token (missing_scope, a handler's 403).
	p *Principal
}

// deny records a refused request.
func (se *SecurityEvents) deny(r *http.Request, d denial) {
	if se == nil {
		return
	}
	se.deniedTotal.WithLabelValues(d.reason).Inc()
	addr, addrKey := remote(r)
	tokenID := ""
	if d.tok != "" {
		tokenID = se.cfg.TokenID(d.tok)
	}
	route, reason := d.route, d.reason
	o := occurrence{typ: events.TypeAuthDenied, actor: AnonymousActor, at: se.cfg.Now(), requestID: RequestID(r.Context()),
		denied: events.AuthDenied{Reason: reason, Status: d.status, Method: method(r), Route: route, Scope: d.scope,
			TokenID: tokenID, Integration: d.integration, RemoteAddr: addr, UserAgent: userAgent(r)}}
	// Without a verified token the caller is known only by its address: a
	// token id or integration it claims is its own choice, and would let
	// it make a fresh key per request.
	who := "a:" + addrKey
	if d.p != nil {
		o.actor, o.subject = actorFor(r, *d.p), tokenID
		o.denied.Principal = d.p.ID
		who = throttleKey(tokenID, *d.p)
	}
	key := who + "\x00" + route + "\x00" + reason

	se.mu.Lock()
	var out []report
	flush := func(o occurrence, held int) { out = append(out, report{o, held - 1}) }
	report1, held, ok := se.denied.observe(key, o, false, flush)
	if !ok {
		o.denied.Overflow = true
		report1, held, _ = se.overflow.observe(route+"\x00"+reason, o, true, flush)
	}
	if report1 {
		out = append(out, report{o, held})
	}
	se.mu.Unlock()
	se.enqueue(out)
}

// use records a request a token authenticated.
func (se *SecurityEvents) use(r *http.Request, route, tok string, p Principal) {
	if se == nil {
		return
	}
	addr, _ := remote(r)
	tokenID := se.cfg.TokenID(tok)
	o := occurrence{typ: events.TypeTokenUsed, subject: tokenID, actor: actorFor(r, p), at: se.cfg.Now(), requestID: RequestID(r.Context()),
		used: events.TokenUsed{TokenID: tokenID, Principal: p.ID, Method: method(r), Route: route, RemoteAddr: addr, UserAgent: userAgent(r)}}
	se.mu.Lock()
	var out []report
	report1, held, _ := se.used.observe(throttleKey(tokenID, p), o, true, func(o occurrence, held int) {
		out = append(out, report{o, held - 1})
	})
	if report1 {
		out = append(out, report{o, held})
	}
	se.mu.Unlock()
	se.enqueue(out)
}

func throttleKey(tokenID string, p Principal) string {
	if tokenID != "" {
		return "t:" + tokenID
	}
	return "p:" + p.ID
}

// Sweep reports what the throttles held back for keys whose window is
// over, and forgets keys with nothing held. Run calls it every
// SweepInterval.
func (se *SecurityEvents) Sweep() { se.sweep(false) }

// sweep reports held occurrences of expired keys. At shutdown (all) it
// reports every held denial, evidence an attack in progress must not lose
// to a restart; held token uses are only a "last used" summary, and stay
// unreported rather than add a record to the log at every stop.
func (se *SecurityEvents) sweep(all bool) {
	now := se.cfg.Now()
	var out []report
	flush := func(o occurrence, held int) { out = append(out, report{o, held - 1}) }
	se.mu.Lock()
	se.denied.sweep(now, all, flush)
	se.overflow.sweep(now, all, flush)
	se.used.sweep(now, false, flush)
	se.mu.Unlock()
	se.enqueue(out)
}

// enqueue builds the events and queues them without blocking; a full
// queue drops them (Run logs how many).
func (se *SecurityEvents) enqueue(reps []report) {
	for _, rep := range reps {
		env, err := rep.occ.envelope(rep.others)
		if err != nil {
			// Every field is ours or bounded; this is a bug, not input.
			se.logger.Error("build security event", "type", rep.occ.typ, "err", err)
			continue
		}
		select {
		case se.queue <- env:
		default:
			se.dropped.Add(1)
			se.outcomes.WithLabelValues(env.Type, "dropped").Inc()
		}
	}
}

// Run publishes queued events and sweeps the throttles until ctx ends;
// then it reports the denials still held back and publishes what is
// queued, within PublishTimeout.
func (se *SecurityEvents) Run(ctx context.Context) error {
	t := time.NewTicker(se.cfg.SweepInterval)
	defer t.Stop()
	for ctx.Err() == nil {
		select {
		case env := <-se.queue:
			se.publish(ctx, env)
		case <-t.C:
			se.Sweep()
		case <-ctx.Done():
		}
	}
	se.sweep(true)
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), se.cfg.PublishTimeout)
	defer cancel()
	for {
		select {
		case env := <-se.queue:
			se.publish(dctx, env)
		default:
			se.logDropped()
			return nil
		}
	}
}

func (se *SecurityEvents) publish(ctx context.Context, env events.Envelope) {
	se.logDropped()
	pctx, cancel := context.WithTimeout(ctx, se.cfg.PublishTimeout)
	defer cancel()
	if err := se.cfg.Publish(pctx, env); err != nil {
		se.outcomes.WithLabelValues(env.Type, "failed").Inc()
		se.logger.Error("publish security event; the audit log will not have it",
			"type", env.Type, "event_id", env.ID, "subject", env.Subject, "correlation_id", env.CorrelationID, "err", err)
		return
	}
	se.outcomes.WithLabelValues(env.Type, "published").Inc()
}

func (se *SecurityEvents) logDropped() {
	if n := se.dropped.Swap(0); n > 0 {
		se.logger.Error("security events dropped: the publish queue was full; the audit log will not have them", "dropped", n)
	}
}

// remote returns the caller's IP address and the key it is throttled by:
// the address, or its /64 for IPv6, where one caller holds many.
func remote(r *http.Request) (addr, key string) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host, host
	}
	ip = ip.Unmap()
	if ip.Is6() {
		if p, err := ip.WithZone("").Prefix(64); err == nil {
			return ip.String(), p.String()
		}
	}
	return ip.String(), ip.String()
}

// method is the request's method, bounded (a route without a method in
// its pattern takes any token as one).
func method(r *http.Request) string {
	if len(r.Method) > 32 {
		return r.Method[:32]
	}
	return r.Method
}

// userAgent is the request's User-Agent, valid UTF-8 and at most
// maxUserAgent characters.
func userAgent(r *http.Request) string {
	ua := strings.ToValidUTF8(r.UserAgent(), "\uFFFD")
	if utf8.RuneCountInString(ua) <= maxUserAgent {
		return ua
	}
	n := 0
	for i := range ua {
		if n == maxUserAgent {
			return ua[:i]
		}
		n++
	}
	return ua
}

// throttle reports the first occurrence of a key at once and holds back
// the rest until the key's window (counted from its last report) is over.
// Its table is bounded; entries are kept oldest report first, so sweeping
// and eviction look only at the front. Not safe for concurrent use.
type throttle struct {
	window time.Duration
	max    int
	order  *list.List // of *slot
	slots  map[string]*list.Element
}

type slot struct {
	key      string
	reported time.Time
	held     int        // occurrences since reported, not reported
	last     occurrence // the latest of them
}

func newThrottle(window time.Duration, maxKeys int) *throttle {
	return &throttle{window: window, max: maxKeys, order: list.New(), slots: map[string]*list.Element{}}
}

// observe records o under key. It answers report when o is to be reported
// now, standing also for held earlier occurrences. A new key when the
// table is full makes room by forgetting the key reported longest ago if
// its window is over or evict is set (flush gets its held occurrences
// first); otherwise observe records nothing and answers ok false.
func (t *throttle) observe(key string, o occurrence, evict bool, flush func(occurrence, int)) (report bool, held int, ok bool) {
	now := o.at
	if e, found := t.slots[key]; found {
		s := e.Value.(*slot)
		if now.Sub(s.reported) < t.window {
			s.held++
			s.last = o
			return false, 0, true
		}
		held = s.held
		s.reported, s.held, s.last = now, 0, occurrence{}
		t.order.MoveToBack(e)
		return true, held, true
	}
	for len(t.slots) >= t.max {
		e := t.order.Front()
		s := e.Value.(*slot)
		if !evict && now.Sub(s.reported) < t.window {
			return false, 0, false
		}
		if s.held > 0 {
			flush(s.last, s.held)
		}
		t.order.Remove(e)
		delete(t.slots, s.key)
	}
	t.slots[key] = t.order.PushBack(&slot{key: key, reported: now})
	return true, 0, true
}

// sweep hands flush the held occurrences of keys whose window is over
// (of every key, with all), restarting their window, and forgets the
// expired keys that held nothing.
func (t *throttle) sweep(now time.Time, all bool, flush func(occurrence, int)) {
	var reported []*list.Element
	for e := t.order.Front(); e != nil; {
		next := e.Next()
		s := e.Value.(*slot)
		if !all && now.Sub(s.reported) < t.window {
			break
		}
		if s.held == 0 {
			if now.Sub(s.reported) >= t.window {
				t.order.Remove(e)
				delete(t.slots, s.key)
			}
		} else {
			flush(s.last, s.held)
			s.reported, s.held, s.last = now, 0, occurrence{}
			reported = append(reported, e)
		}
		e = next
	}
	for _, e := range reported {
		t.order.MoveToBack(e)
	}
}

// len is how many keys the table holds.
func (t *throttle) len() int { return len(t.slots) }
