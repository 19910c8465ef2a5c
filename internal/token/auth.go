package token

import (
	"context"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/firebreak-dev/firebreak/internal/bus"
	"github.com/firebreak-dev/firebreak/internal/fault"
	"github.com/firebreak-dev/firebreak/internal/httpapi"
)

// AuthConfig configures an Authenticator. Zero values take the defaults in
// the comments.
type AuthConfig struct {
	// FlushInterval is how often recorded uses are written to the bucket:
	// at most one write per token per interval. Default one minute.
	FlushInterval time.Duration
	// Now is the clock of last-use times. Default time.Now.
	Now func() time.Time
}

func (c *AuthConfig) setDefaults() {
	if c.FlushInterval <= 0 {
		c.FlushInterval = time.Minute
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Authenticator authenticates scoped tokens. It answers from an in-memory
// copy of the bucket that Run keeps current with a KV watcher; a token not
// (yet) in the copy, one created a moment ago on another process, is read
// from the bucket directly. Successful uses are remembered in memory and
// written to the bucket by Run at most once per FlushInterval, so
// authentication itself never writes.
type Authenticator struct {
	store  *Store
	logger *slog.Logger
	cfg    AuthConfig

	mu    sync.RWMutex
	cache map[string]cached

	usedMu sync.Mutex
	used   map[string]time.Time

	synced   chan struct{}
	syncOnce sync.Once
}

// cached is one token as the authenticator holds it.
type cached struct {
	tok  Token
	hash [32]byte
	rev  uint64
}

var _ httpapi.Authenticator = (*Authenticator)(nil)

// NewAuthenticator returns an authenticator over store. Call Run to keep
// its copy current and flush last uses.
func NewAuthenticator(store *Store, logger *slog.Logger, cfg AuthConfig) *Authenticator {
	cfg.setDefaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Authenticator{store: store, logger: logger, cfg: cfg, cache: map[string]cached{},
		used: map[string]time.Time{}, synced: make(chan struct{})}
}

// dummyToken is a well-formed token the store never makes (all-zero id and
// secret). Its hash is compared against when the id is unknown, so an
// unknown token costs the same comparison as a known one.
var (
	dummyToken = prefix + strings.Repeat("0", idLen) + "_" + strings.Repeat("A", secretLen)
	dummyHash  = hashOf(dummyToken)
)

// Authenticate implements httpapi.Authenticator. A malformed, unknown or
// revoked token, or a wrong secret, is httpapi.ErrBadToken, whichever it
// was; a bucket that cannot be read is a fault.Unavailable error.
func (a *Authenticator) Authenticate(ctx context.Context, secret string) (httpapi.Principal, error) {
	h := hashOf(secret)
	id, ok := Parse(secret)
	if !ok {
		subtle.ConstantTimeCompare(h[:], dummyHash[:])
		return httpapi.Principal{}, httpapi.ErrBadToken
	}
	c, found, err := a.lookup(ctx, id)
	if err != nil {
		return httpapi.Principal{}, err
	}
	want := dummyHash
	if found {
		want = c.hash
	}
	match := subtle.ConstantTimeCompare(h[:], want[:]) == 1
	if !found || !match || c.tok.Revoked() {
		return httpapi.Principal{}, httpapi.ErrBadToken
	}
	a.usedMu.Lock()
	a.used[id] = a.cfg.Now()
	a.usedMu.Unlock()
	return c.tok.Principal(), nil
}

// lookup finds a token in the copy, or else in the bucket.
func (a *Authenticator) lookup(ctx context.Context, id string) (cached, bool, error) {
	a.mu.RLock()
	c, ok := a.cache[id]
	a.mu.RUnlock()
	if ok {
		return c, true, nil
	}
	rec, rev, err := a.store.get(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return cached{}, false, nil
	}
	if err != nil {
		if fault.KindOf(err) != fault.Unavailable {
			// A record that does not decode is a bug or tampering; refuse
			// the token, and say so in the log rather than to the caller.
			a.logger.ErrorContext(ctx, "token record unreadable", "token_id", id, "err", err)
			return cached{}, false, nil
		}
		return cached{}, false, err
	}
	c, err = toCached(rec, rev)
	if err != nil {
		a.logger.ErrorContext(ctx, "token record unreadable", "token_id", id, "err", err)
		return cached{}, false, nil
	}
	a.apply(id, &c, rev)
	return c, true, nil
}

func toCached(rec record, rev uint64) (cached, error) {
	var c cached
	if _, err := hex.Decode(c.hash[:], []byte(rec.Hash)); err != nil {
		return cached{}, err
	}
	c.tok, c.rev = rec.Token, rev
	return c, nil
}

// apply installs c (nil: a deletion) at revision rev unless the copy
// already holds a newer revision.
func (a *Authenticator) apply(id string, c *cached, rev uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if old, ok := a.cache[id]; ok && old.rev > rev {
		return
	}
	if c == nil {
		delete(a.cache, id)
		return
	}
	a.cache[id] = *c
}

// Observe installs a token the caller has just written (a revocation), so
// this process need not wait for the watcher to see it.
func (a *Authenticator) Observe(ctx context.Context, id string) {
	if _, _, err := a.lookupFresh(ctx, id); err != nil {
		a.logger.WarnContext(ctx, "refresh token after write", "token_id", id, "err", err)
	}
}

func (a *Authenticator) lookupFresh(ctx context.Context, id string) (cached, bool, error) {
	rec, rev, err := a.store.get(ctx, id)
	if err != nil {
		return cached{}, false, err
	}
	c, err := toCached(rec, rev)
	if err != nil {
		return cached{}, false, err
	}
	a.apply(id, &c, rev)
	return c, true, nil
}

// Synced is closed once the copy holds every token the bucket held when
// Run started watching.
func (a *Authenticator) Synced() <-chan struct{} { return a.synced }

// Run keeps the copy current and writes last uses until ctx ends, then
// writes the uses still pending (bounded by a short timeout).
func (a *Authenticator) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Go(func() { a.watch(ctx) })
	t := time.NewTicker(a.cfg.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := a.Flush(fctx); err != nil {
				a.logger.Warn("token last-use flush at shutdown", "err", err)
			}
			return nil
		case <-t.C:
			if err := a.Flush(ctx); err != nil && ctx.Err() == nil {
				a.logger.Warn("token last-use flush", "err", err)
			}
		}
	}
}

// watch follows the bucket until ctx ends.
func (a *Authenticator) watch(ctx context.Context) {
	bus.WatchKV(ctx, a.store.kv, a.logger, "token", a.observeEntry, func() { a.syncOnce.Do(func() { close(a.synced) }) })
}

func (a *Authenticator) observeEntry(e jetstream.KeyValueEntry) {
	if e.Operation() != jetstream.KeyValuePut {
		a.apply(e.Key(), nil, e.Revision())
		return
	}
	rec, err := decode(e.Value())
	var c cached
	if err == nil {
		c, err = toCached(rec, e.Revision())
	}
	if err != nil {
		// Refuse the token rather than keep a stale (perhaps unrevoked) copy.
		a.logger.Error("token record unreadable", "token_id", e.Key(), "err", err)
		a.apply(e.Key(), nil, e.Revision())
		return
	}
	a.apply(e.Key(), &c, e.Revision())
}

// Flush writes the recorded last uses to the bucket. Uses it cannot write
// are kept for the next flush unless the token is gone.
func (a *Authenticator) Flush(ctx context.Context) error {
	a.usedMu.Lock()
	pending := a.used
	a.used = map[string]time.Time{}
	a.usedMu.Unlock()
	var errs []error
	for id, at := range pending {
		err := a.store.touch(ctx, id, at)
		if err == nil || errors.Is(err, ErrNotFound) {
			continue
		}
		errs = append(errs, err)
		a.usedMu.Lock()
		if later, ok := a.used[id]; !ok || later.Before(at) {
			a.used[id] = at
		}
		a.usedMu.Unlock()
	}
	return errors.Join(errs...)
}

// pendingUses is how many tokens have unflushed uses (tests).
func (a *Authenticator) pendingUses() map[string]time.Time {
	a.usedMu.Lock()
	defer a.usedMu.Unlock()
	return maps.Clone(a.used)
}

// Chain tries each authenticator in turn (the bootstrap admin token first,
// then scoped tokens) and returns the first principal. When all refuse, it
// answers httpapi.ErrBadToken, or an authenticator's other error (such as
// an unavailable token store) if one had one.
type Chain []httpapi.Authenticator

var _ httpapi.Authenticator = Chain(nil)

// Authenticate implements httpapi.Authenticator.
func (c Chain) Authenticate(ctx context.Context, secret string) (httpapi.Principal, error) {
	var other error
	for _, a := range c {
		p, err := a.Authenticate(ctx, secret)
		if err == nil {
			return p, nil
		}
		if fault.KindOf(err) != fault.Unauthorized && other == nil {
			other = err
		}
	}
	if other != nil {
		return httpapi.Principal{}, other
	}
	return httpapi.Principal{}, httpapi.ErrBadToken
}
