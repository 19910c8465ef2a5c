package token

import (
	"context"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/bus"
	"github.com/firebreak-dev/firebreak/internal/fault"
	"github.com/firebreak-dev/firebreak/internal/httpapi"
)

// server is an embedded JetStream server with no network listener.
func server(t testing.TB) *bus.Embedded {
	t.Helper()
	e, err := bus.StartEmbedded(bus.EmbeddedConfig{StoreDir: t.TempDir(), ServerName: "token-test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Shutdown)
	return e
}

// process is what one firebreak process holds: its own connection, store
// and authenticator over the shared bucket.
type process struct {
	nc    *nats.Conn
	kv    jetstream.KeyValue
	store *Store
	auth  *Authenticator
}

func newProcess(t testing.TB, e *bus.Embedded, cfg AuthConfig) *process {
	t.Helper()
	nc, err := e.Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := EnsureBucket(context.Background(), js, 1)
	if err != nil {
		t.Fatal(err)
	}
	store := NewStore(kv, cfg.Now)
	return &process{nc: nc, kv: kv, store: store, auth: NewAuthenticator(store, nil, cfg)}
}

// run runs p's authenticator until the test ends and waits for its first sync.
func (p *process) run(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.auth.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	select {
	case <-p.auth.Synced():
	case <-time.After(10 * time.Second):
		t.Fatal("authenticator never synced")
	}
}

// cachedToken reports what p's in-memory copy holds for id.
func (p *process) cachedToken(id string) (Token, bool) {
	p.auth.mu.RLock()
	defer p.auth.mu.RUnlock()
	c, ok := p.auth.cache[id]
	return c.tok, ok
}

func eventually(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if f() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func mustCreate(t *testing.T, s *Store, spec Spec) (Token, string) {
	t.Helper()
	tok, secret, err := s.Create(context.Background(), spec, "admin")
	if err != nil {
		t.Fatal(err)
	}
	return tok, secret
}

func TestSpecValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		spec      Spec
		field     string // "" = valid
		msg       string
		wantScope []string
	}{
		{"valid", Spec{User: "alice", Scopes: []string{"incidents:read"}}, "", "", []string{"incidents:read"}},
		{"canonical order, duplicates dropped", Spec{User: "grafana.prod-1", Scopes: []string{"admin", "vulns:read", "incidents:read", "vulns:read"}},
			"", "", []string{"incidents:read", "vulns:read", "admin"}},
		{"every scope", Spec{User: "a", Scopes: Scopes()}, "", "", Scopes()},
		{"no user", Spec{Scopes: []string{"admin"}}, "user", "required", nil},
		{"upper-case user", Spec{User: "Alice", Scopes: []string{"admin"}}, "user", "a-z", nil},
		{"user starts with dot", Spec{User: ".alice", Scopes: []string{"admin"}}, "user", "starting with", nil},
		{"user with space", Spec{User: "al ice", Scopes: []string{"admin"}}, "user", "", nil},
		{"user too long", Spec{User: strings.Repeat("a", 65), Scopes: []string{"admin"}}, "user", "1-64", nil},
		{"reserved user", Spec{User: "admin", Scopes: []string{"admin"}}, "user", "reserved", nil},
		{"no scopes", Spec{User: "alice"}, "scopes", "at least one", nil},
		{"unknown scope", Spec{User: "alice", Scopes: []string{"incidents:read", "incidents:delete"}}, "scopes",
			`unknown scope "incidents:delete" (valid: incidents:read, incidents:write, config:write, audit:read, comms:approve, vulns:read, vulns:write, admin)`, nil},
		{"name too long", Spec{User: "alice", Scopes: []string{"admin"}, Name: strings.Repeat("é", MaxNameLen+1)}, "name", "at most 100", nil},
		{"name at the limit", Spec{User: "alice", Scopes: []string{"admin"}, Name: strings.Repeat("é", MaxNameLen)}, "", "", []string{"admin"}},
		{"name with newline", Spec{User: "alice", Scopes: []string{"admin"}, Name: "a\nb"}, "name", "printable", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.spec.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				if strings.Join(got.Scopes, ",") != strings.Join(tt.wantScope, ",") {
					t.Fatalf("scopes %v, want %v", got.Scopes, tt.wantScope)
				}
				return
			}
			if fault.KindOf(err) != fault.Invalid || fault.DetailsOf(err)["field"] != tt.field {
				t.Fatalf("err %v (details %v), want a field error on %s", err, fault.DetailsOf(err), tt.field)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("err %q does not say %q", err, tt.msg)
			}
		})
	}
}

func TestCreateAuthenticateRevoke(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := newProcess(t, server(t), AuthConfig{})
	p.run(t)

	tok, secret := mustCreate(t, p.store, Spec{User: "alice", Scopes: []string{"incidents:read"}})
	if !strings.HasPrefix(secret, "fbt_"+tok.ID+"_") || len(secret) != tokenLen {
		t.Fatalf("secret %q for id %s", secret, tok.ID)
	}
	if tok.Kind != events.ActorUser || tok.CreatedBy != "admin" || tok.CreatedAt.IsZero() || tok.Revoked() {
		t.Fatalf("created %+v", tok)
	}
	pr, err := p.auth.Authenticate(ctx, secret)
	if err != nil {
		t.Fatal(err)
	}
	if pr.ID != "alice" || pr.Name != "alice" || pr.Kind != events.ActorUser {
		t.Fatalf("principal %+v", pr)
	}
	if !pr.Has(ScopeIncidentsRead) || pr.Has(ScopeIncidentsWrite) || pr.Has(ScopeAdmin) {
		t.Fatalf("scopes of %+v", pr)
	}

	integ, isecret := mustCreate(t, p.store, Spec{User: "grafana", Name: "grafana on prod", Integration: true, Scopes: []string{"admin"}})
	pr, err = p.auth.Authenticate(ctx, isecret)
	if err != nil {
		t.Fatal(err)
	}
	if pr.ID != "grafana" || pr.Name != "grafana on prod" || pr.Kind != events.ActorIntegration || !pr.Has(ScopeVulnsWrite) {
		t.Fatalf("integration principal %+v", pr)
	}

	revoked, err := p.store.Revoke(ctx, tok.ID, "root")
	if err != nil {
		t.Fatal(err)
	}
	if !revoked.Revoked() || revoked.RevokedBy != "root" {
		t.Fatalf("revoked %+v", revoked)
	}
	// The watcher, not a direct read, brings the revocation: the token
	// is in the copy already.
	eventually(t, "revocation to take effect", func() bool {
		_, err := p.auth.Authenticate(ctx, secret)
		return errors.Is(err, httpapi.ErrBadToken)
	})
	if _, err := p.auth.Authenticate(ctx, isecret); err != nil {
		t.Fatalf("the other token stopped working: %v", err)
	}
	if _, err := p.store.Revoke(ctx, tok.ID, "root"); !errors.Is(err, ErrRevoked) || fault.KindOf(err) != fault.Conflict {
		t.Fatalf("second revoke: %v", err)
	}
	for _, id := range []string{"0000000000000000", "nope", "", "../x"} {
		if _, err := p.store.Revoke(ctx, id, "root"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("revoke %q: %v", id, err)
		}
	}
	list, err := p.store.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != tok.ID || !list[0].Revoked() || list[1].ID != integ.ID || list[1].Revoked() {
		t.Fatalf("list %+v", list)
	}
	got, err := p.store.Get(ctx, integ.ID)
	if err != nil || got.Name != "grafana on prod" {
		t.Fatalf("get: %+v %v", got, err)
	}
}

func TestListEmpty(t *testing.T) {
	t.Parallel()
	p := newProcess(t, server(t), AuthConfig{})
	list, err := p.store.List(context.Background())
	if err != nil || list == nil || len(list) != 0 {
		t.Fatalf("list %v %v", list, err)
	}
}

// TestStoredHashOnly: the bucket holds the SHA-256 of the secret, never
// the secret or its random part.
func TestStoredHashOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := newProcess(t, server(t), AuthConfig{})
	tok, secret := mustCreate(t, p.store, Spec{User: "alice", Scopes: []string{"audit:read"}})
	e, err := p.kv.Get(ctx, tok.ID)
	if err != nil {
		t.Fatal(err)
	}
	raw := string(e.Value())
	random := secret[len(prefix)+idLen+1:]
	for _, part := range []string{secret, random, random[:16], random[len(random)-16:]} {
		if strings.Contains(raw, part) {
			t.Fatalf("bucket value %s contains the secret (%q)", raw, part)
		}
	}
	h := hashOf(secret)
	if !strings.Contains(raw, `"sha256":"`+hex.EncodeToString(h[:])+`"`) {
		t.Fatalf("bucket value %s lacks the hash", raw)
	}
	if e.Key() != tok.ID {
		t.Fatalf("key %q, want the id %q", e.Key(), tok.ID)
	}
	st, err := p.kv.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.History() != 1 || st.Bucket() != Bucket {
		t.Fatalf("bucket %s history %d", st.Bucket(), st.History())
	}
}

// TestRefusalsLookAlike: malformed, unknown, wrong-secret and revoked
// tokens all get the same answer.
func TestRefusalsLookAlike(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := newProcess(t, server(t), AuthConfig{})
	p.run(t)
	tok, secret := mustCreate(t, p.store, Spec{User: "alice", Scopes: []string{"incidents:read"}})
	old, oldSecret := mustCreate(t, p.store, Spec{User: "bob", Scopes: []string{"incidents:read"}})
	if _, err := p.store.Revoke(ctx, old.ID, "admin"); err != nil {
		t.Fatal(err)
	}
	p.auth.Observe(ctx, old.ID)
	_, other, _ := newSecret()
	random := secret[len(prefix)+idLen+1:]
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	tests := map[string]string{
		"empty":                               "",
		"admin-looking":                       "fb_admin_0123",
		"just the prefix":                     "fbt_",
		"id only":                             "fbt_" + tok.ID,
		"no separator":                        "fbt_" + tok.ID + random,
		"short secret":                        secret[:len(secret)-1],
		"long secret":                         secret + "A",
		"upper-case id":                       "fbt_" + strings.ToUpper(tok.ID) + "_" + random,
		"bad id char":                         "fbt_" + tok.ID[:15] + "g_" + random,
		"bad secret char":                     secret[:len(secret)-2] + "+" + secret[len(secret)-1:],
		"padding":                             secret[:len(secret)-1] + "=",
		"non-canonical tail":                  secret[:len(secret)-1] + "B",
		"wrong prefix":                        "fbx_" + secret[4:],
		"unknown id":                          other,
		"known id, wrong secret (first char)": flip(secret, len(prefix)+idLen+1),
		"known id, wrong secret (mid char)":   flip(secret, len(prefix)+idLen+20),
		"other token's secret with this id":   "fbt_" + tok.ID + other[len(prefix)+idLen:],
		"revoked":                             oldSecret,
		"whitespace":                          " " + secret,
	}
	for name, s := range tests {
		t.Run(name, func(t *testing.T) {
			pr, err := p.auth.Authenticate(ctx, s)
			if err != httpapi.ErrBadToken {
				t.Fatalf("Authenticate(%q) = %+v, %v; want ErrBadToken itself", s, pr, err)
			}
		})
	}
	if _, err := p.auth.Authenticate(ctx, secret); err != nil {
		t.Fatalf("the good token: %v", err)
	}
	if n := len(p.auth.pendingUses()); n != 1 {
		t.Fatalf("%d tokens with recorded uses; refusals must record none", n)
	}
}

// TestConstantTimePath: a wrong secret for a known id and any secret for an
// unknown id both run the full SHA-256 + constant-time comparison; only a
// malformed string is turned away before a lookup. (Timing is not asserted;
// see BenchmarkAuthenticate.)
func TestConstantTimePath(t *testing.T) {
	t.Parallel()
	if _, ok := Parse(dummyToken); !ok {
		t.Fatal("the dummy token must be well formed, so the dummy path mirrors the real one")
	}
	// The dummy hash never matches a token the store made: its id is all
	// zeros and its secret all zero bytes.
	ctx := context.Background()
	p := newProcess(t, server(t), AuthConfig{})
	if _, err := p.auth.Authenticate(ctx, dummyToken); err != httpapi.ErrBadToken {
		t.Fatalf("dummy token: %v", err)
	}
}

func BenchmarkAuthenticate(b *testing.B) {
	ctx := context.Background()
	p := newProcess(b, server(b), AuthConfig{})
	p.run(b)
	tok, secret, err := p.store.Create(ctx, Spec{User: "alice", Scopes: []string{"admin"}}, "admin")
	if err != nil {
		b.Fatal(err)
	}
	wrong := secret[:len(secret)-2] + "AA"
	for name, s := range map[string]string{"valid": secret, "wrong-secret": wrong, "malformed": "nope-" + tok.ID} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				_, _ = p.auth.Authenticate(ctx, s)
			}
		})
	}
}

// TestLastUseFlush: uses are recorded in memory and written once per flush
// per token; a flush never undoes a revocation that raced it.
func TestLastUseFlush(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var clock atomic.Int64
	clock.Store(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()).UTC() }
	p := newProcess(t, server(t), AuthConfig{Now: now, FlushInterval: time.Hour})
	tok, secret := mustCreate(t, p.store, Spec{User: "alice", Scopes: []string{"incidents:read"}})
	other, _ := mustCreate(t, p.store, Spec{User: "bob", Scopes: []string{"incidents:read"}})
	rev := func(id string) uint64 {
		e, err := p.kv.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return e.Revision()
	}
	before := rev(tok.ID)
	for range 50 {
		clock.Add(int64(time.Second))
		if _, err := p.auth.Authenticate(ctx, secret); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := p.store.Get(ctx, tok.ID); got.LastUsedAt != nil {
		t.Fatalf("authentication wrote to the bucket: %+v", got)
	}
	if err := p.auth.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ := p.store.Get(ctx, tok.ID)
	if got.LastUsedAt == nil || !got.LastUsedAt.Equal(now()) {
		t.Fatalf("last used %v, want %v", got.LastUsedAt, now())
	}
	after := rev(tok.ID)
	if after == before {
		t.Fatal("flush wrote nothing")
	}
	if err := p.auth.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if rev(tok.ID) != after {
		t.Fatal("an empty flush wrote")
	}
	if g, _ := p.store.Get(ctx, other.ID); g.LastUsedAt != nil {
		t.Fatalf("unused token got a last use: %+v", g)
	}

	// A use recorded before a revocation (which the copy has not seen)
	// must not resurrect the token when flushed.
	clock.Add(int64(time.Minute))
	if _, err := p.auth.Authenticate(ctx, secret); err != nil {
		t.Fatal(err)
	}
	if _, err := p.store.Revoke(ctx, tok.ID, "admin"); err != nil {
		t.Fatal(err)
	}
	if err := p.auth.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ = p.store.Get(ctx, tok.ID)
	if !got.Revoked() || !got.LastUsedAt.Equal(now()) {
		t.Fatalf("after use, revoke, flush: %+v", got)
	}
}

// TestRunFlushesPeriodically: Run writes recorded uses every FlushInterval
// and once more when it stops.
func TestRunFlushesPeriodically(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := server(t)
	p := newProcess(t, e, AuthConfig{FlushInterval: 20 * time.Millisecond})
	p.run(t)
	tok, secret := mustCreate(t, p.store, Spec{User: "alice", Scopes: []string{"incidents:read"}})
	if _, err := p.auth.Authenticate(ctx, secret); err != nil {
		t.Fatal(err)
	}
	eventually(t, "last use in the bucket", func() bool {
		g, err := p.store.Get(ctx, tok.ID)
		return err == nil && g.LastUsedAt != nil
	})

	q := newProcess(t, e, AuthConfig{FlushInterval: time.Hour})
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- q.auth.Run(runCtx) }()
	<-q.auth.Synced()
	first, _ := p.store.Get(ctx, tok.ID)
	time.Sleep(5 * time.Millisecond)
	if _, err := q.auth.Authenticate(ctx, secret); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	g, _ := q.store.Get(ctx, tok.ID)
	if !g.LastUsedAt.After(*first.LastUsedAt) {
		t.Fatalf("shutdown did not flush: %v, earlier %v", g.LastUsedAt, first.LastUsedAt)
	}
}

// TestCacheMissFallback: a token the copy does not hold yet (the watcher
// is not running at all here) is read from the bucket, then served from
// the copy.
func TestCacheMissFallback(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := server(t)
	writer := newProcess(t, e, AuthConfig{})
	reader := newProcess(t, e, AuthConfig{})
	tok, secret := mustCreate(t, writer.store, Spec{User: "alice", Scopes: []string{"incidents:read"}})
	if _, ok := reader.cachedToken(tok.ID); ok {
		t.Fatal("copy holds a token before any lookup")
	}
	if _, err := reader.auth.Authenticate(ctx, secret); err != nil {
		t.Fatal(err)
	}
	if _, ok := reader.cachedToken(tok.ID); !ok {
		t.Fatal("the fallback read did not fill the copy")
	}
	// A wrong secret for a cached id is refused without another read.
	if _, err := reader.auth.Authenticate(ctx, secret[:len(secret)-2]+"AA"); !errors.Is(err, httpapi.ErrBadToken) {
		t.Fatalf("wrong secret: %v", err)
	}
	// An unknown well-formed id is a miss in the bucket too.
	_, unknown, _ := newSecret()
	if _, err := reader.auth.Authenticate(ctx, unknown); !errors.Is(err, httpapi.ErrBadToken) {
		t.Fatalf("unknown: %v", err)
	}
	// When the bucket cannot be read, an uncached token is "unavailable",
	// not "unauthorized" (the caller should retry, not give up).
	_, later := mustCreate(t, writer.store, Spec{User: "bob", Scopes: []string{"incidents:read"}})
	reader.nc.Close()
	if _, err := reader.auth.Authenticate(ctx, later); fault.KindOf(err) != fault.Unavailable {
		t.Fatalf("bucket unreachable: %v", err)
	}
	// The cached one keeps working from memory.
	if _, err := reader.auth.Authenticate(ctx, secret); err != nil {
		t.Fatalf("cached token with the bucket unreachable: %v", err)
	}
}

// TestTwoProcesses: two processes on one bucket both see a token created
// by either, and a revocation made by one, through their watchers.
func TestTwoProcesses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := server(t)
	a := newProcess(t, e, AuthConfig{})
	b := newProcess(t, e, AuthConfig{})
	a.run(t)
	b.run(t)

	tok, secret := mustCreate(t, a.store, Spec{User: "alice", Scopes: []string{"incidents:write"}})
	for name, p := range map[string]*process{"a": a, "b": b} {
		eventually(t, "process "+name+" to see the new token", func() bool {
			_, ok := p.cachedToken(tok.ID)
			return ok
		})
		if pr, err := p.auth.Authenticate(ctx, secret); err != nil || !pr.Has(ScopeIncidentsWrite) {
			t.Fatalf("process %s: %+v %v", name, pr, err)
		}
	}
	if _, err := b.store.Revoke(ctx, tok.ID, "admin"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for name, p := range map[string]*process{"a": a, "b": b} {
		eventually(t, "process "+name+" to refuse the revoked token", func() bool {
			_, err := p.auth.Authenticate(ctx, secret)
			return errors.Is(err, httpapi.ErrBadToken)
		})
	}
	t.Logf("revocation seen by both processes after %s", time.Since(start))
}

// TestWatcherSeesDeletion: a token removed from the bucket (by an operator
// with the nats CLI) stops working.
func TestWatcherSeesDeletion(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := newProcess(t, server(t), AuthConfig{})
	p.run(t)
	tok, secret := mustCreate(t, p.store, Spec{User: "alice", Scopes: []string{"incidents:read"}})
	if _, err := p.auth.Authenticate(ctx, secret); err != nil {
		t.Fatal(err)
	}
	if err := p.kv.Delete(ctx, tok.ID); err != nil {
		t.Fatal(err)
	}
	eventually(t, "deleted token refused", func() bool {
		_, err := p.auth.Authenticate(ctx, secret)
		return errors.Is(err, httpapi.ErrBadToken)
	})
	if _, err := p.store.Get(ctx, tok.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get deleted: %v", err)
	}
}

// TestConcurrentRevokeAndTouch: revocations and last-use writes racing on
// the same key never lose the revocation.
func TestConcurrentRevokeAndTouch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := newProcess(t, server(t), AuthConfig{})
	tok, _ := mustCreate(t, p.store, Spec{User: "alice", Scopes: []string{"incidents:read"}})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			if err := p.store.touch(ctx, tok.ID, time.Now().Add(time.Duration(i)*time.Second)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Go(func() {
		if _, err := p.store.Revoke(ctx, tok.ID, "admin"); err != nil {
			t.Error(err)
		}
	})
	wg.Wait()
	if g, _ := p.store.Get(ctx, tok.ID); !g.Revoked() || g.LastUsedAt == nil {
		t.Fatalf("after the race: %+v", g)
	}
}

type fixed struct {
	p   httpapi.Principal
	err error
}

func (f fixed) Authenticate(context.Context, string) (httpapi.Principal, error) { return f.p, f.err }

func TestChain(t *testing.T) {
	t.Parallel()
	admin := httpapi.NewAdminToken("root-secret")
	down := fixed{err: &fault.Error{Kind: fault.Unavailable, Code: "token_store_unavailable", Message: "down"}}
	ok := fixed{p: httpapi.Principal{ID: "alice"}}
	bad := fixed{err: httpapi.ErrBadToken}
	tests := []struct {
		name  string
		chain Chain
		tok   string
		id    string
		kind  fault.Kind
	}{
		{"admin first", Chain{admin, ok}, "root-secret", "admin", ""},
		{"then the next", Chain{admin, ok}, "x", "alice", ""},
		{"all refuse", Chain{admin, bad}, "x", "", fault.Unauthorized},
		{"empty chain", Chain{}, "x", "", fault.Unauthorized},
		{"store down", Chain{admin, down}, "x", "", fault.Unavailable},
		{"store down, admin still works", Chain{admin, down}, "root-secret", "admin", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := tt.chain.Authenticate(context.Background(), tt.tok)
			if tt.kind != "" {
				if fault.KindOf(err) != tt.kind {
					t.Fatalf("err %v, want kind %s", err, tt.kind)
				}
				return
			}
			if err != nil || p.ID != tt.id {
				t.Fatalf("%+v %v, want %s", p, err, tt.id)
			}
		})
	}
}

func TestEnsureBucketIdempotent(t *testing.T) {
	t.Parallel()
	e := server(t)
	p := newProcess(t, e, AuthConfig{})
	tok, _ := mustCreate(t, p.store, Spec{User: "alice", Scopes: []string{"admin"}})
	q := newProcess(t, e, AuthConfig{}) // ensures the bucket again
	if g, err := q.store.Get(context.Background(), tok.ID); err != nil || g.User != "alice" {
		t.Fatalf("after a second EnsureBucket: %+v %v", g, err)
	}
}
