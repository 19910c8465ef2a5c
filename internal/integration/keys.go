package integration

import (
	"context"
	"crypto/subtle"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/firebreak-dev/firebreak/internal/bus"
	"github.com/firebreak-dev/firebreak/internal/fault"
)

// Keys resolves presented integration keys. It answers from an in-memory
// copy of the bucket that Run keeps current with a KV watcher; a key not
// (yet) in the copy, one created a moment ago on another process, is read
// from the bucket directly.
type Keys struct {
	store  *Store
	logger *slog.Logger

	mu     sync.RWMutex
	byHash map[string]cached
	byID   map[string]string // integration id → key hash

	synced   chan struct{}
	syncOnce sync.Once
}

type cached struct {
	rec record
	rev uint64
}

// NewKeys returns a resolver over store. Call Run to keep its copy current.
func NewKeys(store *Store, logger *slog.Logger) *Keys {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Keys{store: store, logger: logger, byHash: map[string]cached{}, byID: map[string]string{},
		synced: make(chan struct{})}
}

// dummyHash is compared against when a key is malformed or unknown, so that
// every refusal costs the same work.
var dummyHash = HashKey(strings.Repeat("0", KeyLen))

// Lookup returns the active integration whose key is key. A malformed,
// unknown or revoked key is ErrUnknownKey, whichever it was; a bucket that
// cannot be read is a fault.Unavailable error.
func (k *Keys) Lookup(ctx context.Context, key string) (Integration, error) {
	hash := HashKey(key)
	if !WellFormed(key) {
		subtle.ConstantTimeCompare([]byte(hash), []byte(dummyHash))
		return Integration{}, ErrUnknownKey
	}
	c, found, err := k.lookupHash(ctx, hash)
	if err != nil {
		return Integration{}, err
	}
	want := dummyHash
	if found {
		want = c.hash
	}
	match := subtle.ConstantTimeCompare([]byte(hash), []byte(want)) == 1
	if !found || !match || c.rec.Revoked() {
		return Integration{}, ErrUnknownKey
	}
	return c.rec.Integration, nil
}

// found is a cached record with its bucket key.
type found struct {
	cached
	hash string
}

func (k *Keys) lookupHash(ctx context.Context, hash string) (found, bool, error) {
	k.mu.RLock()
	c, ok := k.byHash[hash]
	k.mu.RUnlock()
	if ok {
		return found{c, hash}, true, nil
	}
	rec, rev, err := k.store.getHash(ctx, hash)
	if errors.Is(err, ErrNotFound) {
		return found{}, false, nil
	}
	if err != nil {
		if fault.KindOf(err) != fault.Unavailable {
			k.logger.ErrorContext(ctx, "integration record unreadable", "err", err)
			return found{}, false, nil
		}
		return found{}, false, err
	}
	c = cached{rec: rec, rev: rev}
	k.apply(hash, &c, rev)
	return found{c, hash}, true, nil
}

// syncWait bounds how long Signed waits for the first sync of the copy.
const syncWait = 5 * time.Second

// Signed returns the active Grafana integration id and its signing secret
// (the HMAC key).
// Unknown, revoked and non-Grafana ids are ErrUnknownKey. It answers from
// the copy; until the copy is synced it waits for it (at most syncWait).
func (k *Keys) Signed(ctx context.Context, id string) (Integration, []byte, error) {
	if !validID(id) {
		return Integration{}, nil, ErrUnknownKey
	}
	c, ok := k.byIDCached(id)
	if !ok {
		wait := time.NewTimer(syncWait)
		defer wait.Stop()
		select {
		case <-k.synced:
		case <-wait.C:
			return Integration{}, nil, unavailable("integration keys", errors.New("not synced yet"))
		case <-ctx.Done():
			return Integration{}, nil, unavailable("integration keys", ctx.Err())
		}
		c, ok = k.byIDCached(id)
	}
	if !ok || c.rec.Revoked() || c.rec.Type != TypeGrafana || c.rec.SigningSecret == "" {
		return Integration{}, nil, ErrUnknownKey
	}
	// Grafana's HMAC key is the secret as typed into the contact point:
	// the bytes of the hex string shown at creation.
	return c.rec.Integration, []byte(c.rec.SigningSecret), nil
}

func (k *Keys) byIDCached(id string) (cached, bool) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	h, ok := k.byID[id]
	if !ok {
		return cached{}, false
	}
	c, ok := k.byHash[h]
	return c, ok
}

// apply installs c (nil: a deletion) under hash at revision rev unless the
// copy already holds a newer revision.
func (k *Keys) apply(hash string, c *cached, rev uint64) {
	k.mu.Lock()
	defer k.mu.Unlock()
	old, had := k.byHash[hash]
	if had && old.rev > rev {
		return
	}
	if had {
		delete(k.byID, old.rec.ID)
	}
	if c == nil {
		delete(k.byHash, hash)
		return
	}
	k.byHash[hash] = *c
	k.byID[c.rec.ID] = hash
}

// Refresh re-reads integration id from the bucket, so that a change this
// process just made (a revocation) applies here without waiting for the
// watcher.
func (k *Keys) Refresh(ctx context.Context, id string) {
	e, err := k.store.find(ctx, id)
	if err != nil {
		k.logger.WarnContext(ctx, "refresh integration after write", "integration_id", id, "err", err)
		return
	}
	k.apply(e.hash, &cached{rec: e.rec, rev: e.rev}, e.rev)
}

// Synced is closed once the copy holds every integration the bucket held
// when Run started watching.
func (k *Keys) Synced() <-chan struct{} { return k.synced }

// Run keeps the copy current until ctx ends, restarting the watcher (after
// a pause) whenever it stops early.
func (k *Keys) Run(ctx context.Context) error {
	bus.WatchKV(ctx, k.store.kv, k.logger, "integration", k.observe, func() { k.syncOnce.Do(func() { close(k.synced) }) })
	return nil
}

func (k *Keys) observe(e jetstream.KeyValueEntry) {
	if e.Operation() != jetstream.KeyValuePut {
		k.apply(e.Key(), nil, e.Revision())
		return
	}
	rec, err := decode(e.Value())
	if err != nil {
		// Refuse the key rather than keep a stale (perhaps unrevoked) copy.
		k.logger.Error("integration record unreadable", "err", err)
		k.apply(e.Key(), nil, e.Revision())
		return
	}
	k.apply(e.Key(), &cached{rec: rec, rev: e.Revision()}, e.Revision())
}
