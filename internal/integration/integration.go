// Package integration is firebreak's integration keys: the routing keys with
// which monitoring systems send alerts (PagerDuty Events API v2 clients,
// Alertmanager, Grafana, generic JSON). Each key belongs to one technical
// service, is shown once at creation, is stored only as its SHA-256 and can
// be revoked.
//
// Integrations live in the JetStream key-value bucket FB_INTEGRATIONS (see
// ADR 5 for the same design applied to API tokens). The bucket key is the
// hex SHA-256 of the integration key, so a presented key is looked up
// directly; the value is the JSON of a record. Every process keeps an
// in-memory copy current with a KV watcher (see Keys).
//
// One exception to "hashes only": a Grafana integration also has a signing
// secret, the HMAC key of Grafana's X-Grafana-Alerting-Signature. Verifying
// an HMAC needs the secret itself, so it is stored in the record. It is shown
// once, at creation, and is never logged, listed or returned afterwards; it
// authenticates nothing but the signature of Grafana's webhooks for that one
// integration.
package integration

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/firebreak-dev/firebreak/internal/fault"
)

// Bucket is the JetStream key-value bucket that holds the integrations.
const Bucket = "FB_INTEGRATIONS"

// Integration types: which endpoint a key is good for.
const (
	TypeEventsV2     = "events-v2"    // POST /v2/enqueue, /v2/change/enqueue (routing_key in the body)
	TypeAlertmanager = "alertmanager" // POST /api/v1/integrations/alertmanager (bearer)
	TypeGrafana      = "grafana"      // POST /api/v1/integrations/grafana/{id} (HMAC signature)
	TypeGeneric      = "generic"      // POST /api/v1/integrations/generic (bearer)
)

// Types returns every integration type.
func Types() []string { return []string{TypeEventsV2, TypeAlertmanager, TypeGrafana, TypeGeneric} }

// KeyLen is the length of an integration key: 32 characters, like
// PagerDuty's integration keys, so that PagerDuty clients that check the
// length accept it.
const KeyLen = 32

// MaxNameLen is the longest integration name, in characters.
const MaxNameLen = 100

const (
	keyAlphabet  = "abcdefghijklmnopqrstuvwxyz0123456789"
	idBytes      = 8
	idLen        = 2 * idBytes
	secretBytes  = 32
	maxServiceLn = 100
)

// Errors the store returns.
var (
	// ErrNotFound: no integration has that id.
	ErrNotFound = fault.New(fault.NotFound, "integration_not_found", "no such integration")
	// ErrRevoked: the integration is already revoked.
	ErrRevoked = fault.New(fault.Conflict, "integration_revoked", "integration is already revoked")
	// ErrUnknownKey: a presented key is malformed, unknown or revoked. The
	// three are deliberately indistinguishable.
	ErrUnknownKey = fault.New(fault.Unauthorized, "unknown_integration_key", "unknown or revoked integration key")
)

// servicePattern is intake.ServiceName (a NATS subject token); repeated
// here so that this package does not depend on a service.
var servicePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*$`)

// Integration is an integration as the API shows it: never its key, its
// hash or its signing secret.
type Integration struct {
	ID        string     `json:"id"`
	Service   string     `json:"service"`
	Type      string     `json:"type"`
	Name      string     `json:"name,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	CreatedBy string     `json:"created_by"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	RevokedBy string     `json:"revoked_by,omitempty"`
}

// Revoked reports whether the integration has been revoked.
func (i Integration) Revoked() bool { return i.RevokedAt != nil }

// Label is the name, or the type when the integration has no name: how
// alerts record where they came from.
func (i Integration) Label() string {
	if i.Name != "" {
		return i.Name
	}
	return i.Type
}

// record is the KV value.
type record struct {
	Integration
	// SigningSecret is the hex HMAC key of a Grafana integration (see the
	// package comment); empty for the other types.
	SigningSecret string `json:"signing_secret,omitempty"`
}

// Spec is what an integration is created with.
type Spec struct {
	Service string `json:"service"`
	Type    string `json:"type"`
	Name    string `json:"name,omitempty"`
}

// Validate checks a spec and returns it normalized. Errors are fault.Field
// errors naming the field.
func (s Spec) Validate() (Spec, error) {
	switch {
	case s.Service == "":
		return s, fault.Field("service", "is required")
	case len(s.Service) > maxServiceLn:
		return s, fault.Field("service", "longer than %d characters", maxServiceLn)
	case !servicePattern.MatchString(s.Service):
		return s, fault.Field("service", "may contain only letters, digits, '-' and '_', starting with a letter or digit")
	}
	if s.Type == "" {
		return s, fault.Field("type", "is required (%s)", strings.Join(Types(), ", "))
	}
	if !slices.Contains(Types(), s.Type) {
		return s, fault.Field("type", "must be one of %s, got %q", strings.Join(Types(), ", "), s.Type)
	}
	s.Name = strings.TrimSpace(s.Name)
	if n := utf8.RuneCountInString(s.Name); n > MaxNameLen {
		return s, fault.Field("name", "is %d characters long; at most %d are allowed", n, MaxNameLen)
	}
	if !utf8.ValidString(s.Name) || strings.ContainsFunc(s.Name, unicode.IsControl) {
		return s, fault.Field("name", "must be printable UTF-8 text")
	}
	return s, nil
}

// NewKey returns a fresh integration key: KeyLen characters of [a-z0-9]
// (about 165 bits), drawn without modulo bias.
func NewKey() (string, error) {
	out := make([]byte, 0, KeyLen)
	var buf [64]byte
	for len(out) < KeyLen {
		if _, err := rand.Read(buf[:]); err != nil {
			return "", fmt.Errorf("integration key randomness: %w", err)
		}
		for _, b := range buf {
			// 252 = 7*36: values at or above it would favour the first letters.
			if b < 252 && len(out) < KeyLen {
				out = append(out, keyAlphabet[int(b)%len(keyAlphabet)])
			}
		}
	}
	return string(out), nil
}

// WellFormed reports whether s has the shape of a key NewKey makes.
func WellFormed(s string) bool {
	if len(s) != KeyLen {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// HashKey is the bucket key of an integration key: its hex SHA-256.
func HashKey(key string) string {
	h := sha256.Sum256([]byte(key))
	return hex.EncodeToString(h[:])
}

// BucketConfig is the configuration of the integration bucket.
func BucketConfig(replicas int) jetstream.KeyValueConfig {
	if replicas < 1 {
		replicas = 1
	}
	return jetstream.KeyValueConfig{
		Bucket:      Bucket,
		Description: "firebreak integration keys (hashes only), key = hex SHA-256 of the integration key",
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
	}
}

// EnsureBucket creates the integration bucket or updates it to the current
// configuration; idempotent and safe at every start-up.
func EnsureBucket(ctx context.Context, js jetstream.JetStream, replicas int) (jetstream.KeyValue, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, BucketConfig(replicas))
	if err != nil {
		return nil, fmt.Errorf("ensure bucket %s: %w", Bucket, err)
	}
	return kv, nil
}

// Store keeps integrations in a JetStream key-value bucket. Updates use
// compare-and-set on the entry's revision.
type Store struct {
	kv  jetstream.KeyValue
	now func() time.Time
}

// NewStore returns a store on kv; now is its clock (nil: time.Now).
func NewStore(kv jetstream.KeyValue, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{kv: kv, now: now}
}

// Created is a new integration with its one-time secrets.
type Created struct {
	Integration
	// Key is the integration key (routing key / bearer token).
	Key string `json:"key"`
	// SigningSecret is the HMAC secret of a Grafana integration.
	SigningSecret string `json:"signing_secret,omitempty"`
}

// Create validates spec and stores a new integration created by by. The
// answer holds the key (and for Grafana the signing secret), which exist
// nowhere else afterwards.
func (s *Store) Create(ctx context.Context, spec Spec, by string) (Created, error) {
	spec, err := spec.Validate()
	if err != nil {
		return Created{}, err
	}
	for range 3 {
		key, err := NewKey()
		if err != nil {
			return Created{}, err
		}
		var id [idBytes]byte
		if _, err := rand.Read(id[:]); err != nil {
			return Created{}, fmt.Errorf("integration id randomness: %w", err)
		}
		rec := record{Integration: Integration{ID: hex.EncodeToString(id[:]), Service: spec.Service, Type: spec.Type,
			Name: spec.Name, CreatedAt: s.now().UTC().Truncate(time.Millisecond), CreatedBy: by}}
		if spec.Type == TypeGrafana {
			var sec [secretBytes]byte
			if _, err := rand.Read(sec[:]); err != nil {
				return Created{}, fmt.Errorf("signing secret randomness: %w", err)
			}
			rec.SigningSecret = hex.EncodeToString(sec[:])
		}
		b, err := json.Marshal(rec)
		if err != nil {
			return Created{}, err
		}
		if _, err := s.kv.Create(ctx, HashKey(key), b); err != nil {
			if errors.Is(err, jetstream.ErrKeyExists) {
				continue
			}
			return Created{}, unavailable("store integration", err)
		}
		return Created{Integration: rec.Integration, Key: key, SigningSecret: rec.SigningSecret}, nil
	}
	return Created{}, errors.New("create integration: key collisions")
}

// getHash reads the record stored under a key hash; ErrNotFound if none.
func (s *Store) getHash(ctx context.Context, hash string) (record, uint64, error) {
	e, err := s.kv.Get(ctx, hash)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return record{}, 0, ErrNotFound
	}
	if err != nil {
		return record{}, 0, unavailable("read integration", err)
	}
	rec, err := decode(e.Value())
	if err != nil {
		return record{}, 0, err
	}
	return rec, e.Revision(), nil
}

// entry is a record with where it is stored.
type entry struct {
	hash string
	rec  record
	rev  uint64
}

// all reads every record of the bucket.
func (s *Store) all(ctx context.Context) ([]entry, error) {
	w, err := s.kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, unavailable("list integrations", err)
	}
	defer func() { _ = w.Stop() }()
	var out []entry
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case e, ok := <-w.Updates():
			if !ok {
				return nil, unavailable("list integrations", errors.New("watcher stopped"))
			}
			if e == nil {
				return out, nil
			}
			rec, err := decode(e.Value())
			if err != nil {
				return nil, fmt.Errorf("integration entry %s: %w", e.Key(), err)
			}
			out = append(out, entry{hash: e.Key(), rec: rec, rev: e.Revision()})
		}
	}
}

// List returns every integration, revoked ones included, oldest first.
func (s *Store) List(ctx context.Context) ([]Integration, error) {
	es, err := s.all(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Integration, 0, len(es))
	for _, e := range es {
		out = append(out, e.rec.Integration)
	}
	slices.SortFunc(out, func(a, b Integration) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// find returns the entry of integration id (a scan: integrations are few
// and this is only used by admin operations).
func (s *Store) find(ctx context.Context, id string) (entry, error) {
	if !validID(id) {
		return entry{}, ErrNotFound
	}
	es, err := s.all(ctx)
	if err != nil {
		return entry{}, err
	}
	for _, e := range es {
		if e.rec.ID == id {
			return e, nil
		}
	}
	return entry{}, ErrNotFound
}

// Get returns integration id, or ErrNotFound.
func (s *Store) Get(ctx context.Context, id string) (Integration, error) {
	e, err := s.find(ctx, id)
	return e.rec.Integration, err
}

// Revoke marks integration id revoked by by and returns it: ErrNotFound for
// an unknown id, ErrRevoked when it already is. The signing secret of a
// Grafana integration is erased with the revocation.
func (s *Store) Revoke(ctx context.Context, id, by string) (Integration, error) {
	for attempt := 0; ; attempt++ {
		e, err := s.find(ctx, id)
		if err != nil {
			return Integration{}, err
		}
		if e.rec.Revoked() {
			return Integration{}, ErrRevoked
		}
		t := s.now().UTC().Truncate(time.Millisecond)
		e.rec.RevokedAt, e.rec.RevokedBy, e.rec.SigningSecret = &t, by, ""
		b, err := json.Marshal(e.rec)
		if err != nil {
			return Integration{}, err
		}
		_, err = s.kv.Update(ctx, e.hash, b, e.rev)
		if err == nil {
			return e.rec.Integration, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) || attempt >= 10 {
			return Integration{}, unavailable("revoke integration "+id, err)
		}
	}
}

func decode(b []byte) (record, error) {
	var rec record
	if err := json.Unmarshal(b, &rec); err != nil {
		return record{}, fmt.Errorf("decode integration record: %w", err)
	}
	if rec.ID == "" || rec.Service == "" || rec.Type == "" {
		return record{}, errors.New("decode integration record: missing id, service or type")
	}
	return rec, nil
}

func validID(id string) bool {
	if len(id) != idLen {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil && strings.ToLower(id) == id
}

// unavailable classifies a failure to reach the bucket.
func unavailable(what string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", what, err)
	}
	return &fault.Error{Kind: fault.Unavailable, Code: "integration_store_unavailable", Message: what + ": integration store unavailable", Err: err}
}
