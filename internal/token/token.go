// Package token is firebreak's scoped API tokens: per user or integration,
// created by an admin, shown once, stored only as a SHA-256 hash, revocable,
// with their last use recorded.
//
// Tokens live in the JetStream key-value bucket FB_TOKENS (key = token id,
// value = the JSON of a record), so every process of a deployment
// authenticates them without reading another service's database. Each
// process keeps an in-memory copy current with a KV watcher (see
// Authenticator); a revocation takes effect everywhere within the watch
// latency.
package token

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
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

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/fault"
	"github.com/firebreak-dev/firebreak/internal/httpapi"
)

// Bucket is the JetStream key-value bucket that holds the tokens.
const Bucket = "FB_TOKENS"

// Scopes a token can carry, in the order they are shown. ScopeAdmin
// implies every other scope (httpapi.Principal.Has).
const (
	ScopeIncidentsRead  = httpapi.ScopeIncidentsRead
	ScopeIncidentsWrite = httpapi.ScopeIncidentsWrite
	ScopeConfigWrite    = httpapi.ScopeConfigWrite
	ScopeAuditRead      = httpapi.ScopeAuditRead
	ScopeCommsApprove   = httpapi.ScopeCommsApprove
	ScopeVulnsRead      = httpapi.ScopeVulnsRead
	ScopeVulnsWrite     = httpapi.ScopeVulnsWrite
	ScopeAdmin          = httpapi.ScopeAdmin
)

// Scopes returns every valid scope, in canonical order.
func Scopes() []string {
	return []string{ScopeIncidentsRead, ScopeIncidentsWrite, ScopeConfigWrite, ScopeAuditRead,
		ScopeCommsApprove, ScopeVulnsRead, ScopeVulnsWrite, ScopeAdmin}
}

// Limits on what a token may be created with.
const (
	// MaxNameLen is the longest token name, in characters.
	MaxNameLen = 100
	// reservedUser is the principal id of the bootstrap admin token; a
	// scoped token may not pose as it in the audit trail.
	reservedUser = "admin"
)

// The token string is "fbt_" + id + "_" + secret: the id is idLen
// lowercase hex characters (so it has no "_" and is a valid KV key), the
// secret secretBytes random bytes in unpadded base64url.
const (
	prefix      = "fbt_"
	idBytes     = 8
	idLen       = 2 * idBytes
	secretBytes = 32
	secretLen   = 43 // base64.RawURLEncoding.EncodedLen(secretBytes)
	tokenLen    = len(prefix) + idLen + 1 + secretLen
)

// Errors the store returns.
var (
	// ErrNotFound: no token has that id.
	ErrNotFound = fault.New(fault.NotFound, "token_not_found", "no such token")
	// ErrRevoked: the token is already revoked.
	ErrRevoked = fault.New(fault.Conflict, "token_revoked", "token is already revoked")
)

var userPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// Token is a scoped API token as the API shows it: never the secret or its
// hash.
type Token struct {
	ID         string           `json:"id"`
	User       string           `json:"user"`
	Name       string           `json:"name,omitempty"`
	Kind       events.ActorKind `json:"kind"`
	Scopes     []string         `json:"scopes"`
	CreatedAt  time.Time        `json:"created_at"`
	CreatedBy  string           `json:"created_by"`
	RevokedAt  *time.Time       `json:"revoked_at,omitempty"`
	RevokedBy  string           `json:"revoked_by,omitempty"`
	LastUsedAt *time.Time       `json:"last_used_at,omitempty"`
}

// Revoked reports whether the token has been revoked.
func (t Token) Revoked() bool { return t.RevokedAt != nil }

// Principal is who a request with this token is authenticated as.
func (t Token) Principal() httpapi.Principal {
	name := t.Name
	if name == "" {
		name = t.User
	}
	return httpapi.Principal{ID: t.User, Name: name, Kind: t.Kind, Scopes: slices.Clone(t.Scopes)}
}

// record is the KV value: the token and the hex SHA-256 of its secret.
type record struct {
	Token
	Hash string `json:"sha256"`
}

// Spec is what a token is created with.
type Spec struct {
	// User is the user or integration the token acts as (a slug).
	User string `json:"user"`
	// Scopes it grants; at least one of Scopes().
	Scopes []string `json:"scopes"`
	// Name is an optional label ("grafana on prod"), shown as the actor's name.
	Name string `json:"name,omitempty"`
	// Integration makes the principal an integration rather than a person.
	Integration bool `json:"integration,omitempty"`
}

// Validate checks a spec and returns it normalized (scopes de-duplicated in
// canonical order, name trimmed). Errors are fault.Field errors naming the
// field.
func (s Spec) Validate() (Spec, error) {
	if s.User == "" {
		return s, fault.Field("user", "is required")
	}
	if !userPattern.MatchString(s.User) {
		return s, fault.Field("user", "must be 1-64 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit, got %q", s.User)
	}
	if s.User == reservedUser {
		return s, fault.Field("user", "%q is reserved for the bootstrap admin token", reservedUser)
	}
	s.Name = strings.TrimSpace(s.Name)
	if n := utf8.RuneCountInString(s.Name); n > MaxNameLen {
		return s, fault.Field("name", "is %d characters long; at most %d are allowed", n, MaxNameLen)
	}
	if !utf8.ValidString(s.Name) || strings.ContainsFunc(s.Name, unicode.IsControl) {
		return s, fault.Field("name", "must be printable UTF-8 text")
	}
	if len(s.Scopes) == 0 {
		return s, fault.Field("scopes", "at least one scope is required (valid: %s)", strings.Join(Scopes(), ", "))
	}
	valid := Scopes()
	var canon []string
	for _, sc := range valid {
		if slices.Contains(s.Scopes, sc) {
			canon = append(canon, sc)
		}
	}
	for _, sc := range s.Scopes {
		if !slices.Contains(valid, sc) {
			return s, fault.Field("scopes", "unknown scope %q (valid: %s)", sc, strings.Join(valid, ", "))
		}
	}
	s.Scopes = canon
	return s, nil
}

// newSecret returns a fresh token id and the token string.
func newSecret() (id, secret string, err error) {
	var b [idBytes + secretBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", fmt.Errorf("token randomness: %w", err)
	}
	id = hex.EncodeToString(b[:idBytes])
	return id, prefix + id + "_" + base64.RawURLEncoding.EncodeToString(b[idBytes:]), nil
}

// Parse splits a presented token string into its id. It accepts only the
// exact shape Store.Create hands out and reports false for anything else, without
// saying why (the caller answers every failure the same way).
func Parse(s string) (id string, ok bool) {
	if len(s) != tokenLen || !strings.HasPrefix(s, prefix) {
		return "", false
	}
	id, secret := s[len(prefix):len(prefix)+idLen], s[len(prefix)+idLen:]
	if secret[0] != '_' {
		return "", false
	}
	secret = secret[1:]
	for i := range len(id) {
		c := id[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return "", false
		}
	}
	for i := range len(secret) {
		c := secret[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && c != '-' && c != '_' {
			return "", false
		}
	}
	// The last character carries only 4 of 6 bits (32 bytes = 256 bits in
	// 43 characters); insist on canonical encoding so one secret has one
	// spelling.
	if _, err := base64.RawURLEncoding.Strict().DecodeString(secret); err != nil {
		return "", false
	}
	return id, true
}

// hashOf is the stored form of a token string.
func hashOf(secret string) [32]byte { return sha256.Sum256([]byte(secret)) }

// BucketConfig is the configuration of the token bucket: file storage, one
// value per key (no history), replicated like the streams.
func BucketConfig(replicas int) jetstream.KeyValueConfig {
	if replicas < 1 {
		replicas = 1
	}
	return jetstream.KeyValueConfig{
		Bucket:      Bucket,
		Description: "firebreak API tokens (hashes only), key = token id",
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
	}
}

// EnsureBucket creates the token bucket or updates it to the current
// configuration. Like bus.EnsureStreams it is idempotent and safe to run at
// every start-up, by every process at once.
func EnsureBucket(ctx context.Context, js jetstream.JetStream, replicas int) (jetstream.KeyValue, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, BucketConfig(replicas))
	if err != nil {
		return nil, fmt.Errorf("ensure bucket %s: %w", Bucket, err)
	}
	return kv, nil
}

// Store keeps tokens in a JetStream key-value bucket. Updates use the
// entry's revision (compare-and-set), so a revocation and a last-use write
// racing on two processes never lose each other.
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

// Create validates spec, stores a new token and returns it with its secret,
// the only time the secret exists outside the caller's hands. by is the
// creating principal's id. Validation errors are fault.Field errors.
func (s *Store) Create(ctx context.Context, spec Spec, by string) (Token, string, error) {
	spec, err := spec.Validate()
	if err != nil {
		return Token{}, "", err
	}
	kind := events.ActorUser
	if spec.Integration {
		kind = events.ActorIntegration
	}
	for range 3 { // a 64-bit id collides only by accident; retry anyway
		id, secret, err := newSecret()
		if err != nil {
			return Token{}, "", err
		}
		h := hashOf(secret)
		rec := record{Token: Token{ID: id, User: spec.User, Name: spec.Name, Kind: kind, Scopes: spec.Scopes,
			CreatedAt: s.now().UTC().Truncate(time.Millisecond), CreatedBy: by}, Hash: hex.EncodeToString(h[:])}
		b, err := json.Marshal(rec)
		if err != nil {
			return Token{}, "", err
		}
		if _, err := s.kv.Create(ctx, id, b); err != nil {
			if errors.Is(err, jetstream.ErrKeyExists) {
				continue
			}
			return Token{}, "", unavailable("store token", err)
		}
		return rec.Token, secret, nil
	}
	return Token{}, "", errors.New("create token: id collisions")
}

// Get returns one token, or ErrNotFound.
func (s *Store) Get(ctx context.Context, id string) (Token, error) {
	rec, _, err := s.get(ctx, id)
	return rec.Token, err
}

// get reads a record and its revision; ErrNotFound when there is none.
func (s *Store) get(ctx context.Context, id string) (record, uint64, error) {
	if !validID(id) {
		return record{}, 0, ErrNotFound
	}
	e, err := s.kv.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return record{}, 0, ErrNotFound
	}
	if err != nil {
		return record{}, 0, unavailable("read token "+id, err)
	}
	rec, err := decode(e.Value())
	if err != nil {
		return record{}, 0, fmt.Errorf("token %s: %w", id, err)
	}
	return rec, e.Revision(), nil
}

// List returns every token, revoked ones included, oldest first.
func (s *Store) List(ctx context.Context) ([]Token, error) {
	w, err := s.kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, unavailable("list tokens", err)
	}
	defer func() { _ = w.Stop() }()
	out := []Token{}
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case e, ok := <-w.Updates():
			if !ok {
				return nil, unavailable("list tokens", errors.New("watcher stopped"))
			}
			if e == nil {
				slices.SortFunc(out, func(a, b Token) int {
					if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
						return c
					}
					return strings.Compare(a.ID, b.ID)
				})
				return out, nil
			}
			rec, err := decode(e.Value())
			if err != nil {
				return nil, fmt.Errorf("token %s: %w", e.Key(), err)
			}
			out = append(out, rec.Token)
		}
	}
}

// Revoke marks a token revoked by the principal by and returns it.
// It returns ErrNotFound for an unknown id and ErrRevoked when the token is
// already revoked.
func (s *Store) Revoke(ctx context.Context, id, by string) (Token, error) {
	var out Token
	err := s.update(ctx, id, func(r *record) error {
		if r.Revoked() {
			return ErrRevoked
		}
		t := s.now().UTC().Truncate(time.Millisecond)
		r.RevokedAt, r.RevokedBy = &t, by
		out = r.Token
		return nil
	})
	return out, err
}

// touch records that a token was last used at t (never moving it back).
func (s *Store) touch(ctx context.Context, id string, t time.Time) error {
	return s.update(ctx, id, func(r *record) error {
		if r.LastUsedAt != nil && !t.After(*r.LastUsedAt) {
			return errUnchanged
		}
		t := t.UTC().Truncate(time.Millisecond)
		r.LastUsedAt = &t
		return nil
	})
}

var errUnchanged = errors.New("unchanged")

// update applies change to a record with compare-and-set, retrying when
// another writer got in between.
func (s *Store) update(ctx context.Context, id string, change func(*record) error) error {
	for attempt := 0; ; attempt++ {
		rec, rev, err := s.get(ctx, id)
		if err != nil {
			return err
		}
		if err := change(&rec); err != nil {
			if errors.Is(err, errUnchanged) {
				return nil
			}
			return err
		}
		b, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		_, err = s.kv.Update(ctx, id, b, rev)
		if err == nil {
			return nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) || attempt >= 10 {
			return unavailable("update token "+id, err)
		}
		// ErrKeyExists here means "wrong last sequence": someone else
		// wrote the key since we read it. Read again.
	}
}

func decode(b []byte) (record, error) {
	var rec record
	if err := json.Unmarshal(b, &rec); err != nil {
		return record{}, fmt.Errorf("decode token record: %w", err)
	}
	if rec.ID == "" || len(rec.Hash) != 2*sha256.Size {
		return record{}, errors.New("decode token record: missing id or hash")
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
	return &fault.Error{Kind: fault.Unavailable, Code: "token_store_unavailable", Message: what + ": token store unavailable", Err: err}
}
