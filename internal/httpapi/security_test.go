package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/fault"
	"github.com/firebreak-dev/firebreak/internal/httpapi"
	"github.com/firebreak-dev/firebreak/schemas"
)

// Tokens in the scoped-token format: fbt_<16 hex id>_<secret>.
const (
	readerID     = "0123456789abcdef"
	readerSecret = "S3cretS3cretS3cretS3cretS3cretS3cretS3cret1"
	readerToken  = "fbt_" + readerID + "_" + readerSecret
	forgedToken  = "fbt_" + readerID + "_" + "F0rgedF0rgedF0rgedF0rgedF0rgedF0rgedF0rged1"
	writerToken  = "fbt_fedcba9876543210_WriterWriterWriterWriterWriterWriterWriter1"
	adminBoot    = "fb_admin_bootstrap_secret"
)

// tokenID is the id part of a scoped token, as token.Parse would find it.
func tokenID(tok string) string {
	if len(tok) > 21 && strings.HasPrefix(tok, "fbt_") && tok[20] == '_' {
		return tok[4:20]
	}
	return ""
}

// clock is a test clock that moves only when told.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// unavailable authenticates nobody because its store is down.
type unavailable struct{}

func (unavailable) Authenticate(context.Context, string) (httpapi.Principal, error) {
	return httpapi.Principal{}, fault.New(fault.Unavailable, "token_store_unavailable", "token store unavailable")
}

type secFixture struct {
	srv   *httpapi.Server
	se    *httpapi.SecurityEvents
	clock *clock
}

func newSecFixture(t *testing.T, authn httpapi.Authenticator, cfg httpapi.SecurityConfig) *secFixture {
	t.Helper()
	if authn == nil {
		authn = tokens{
			readerToken: {ID: "rita", Name: "Rita's laptop", Kind: events.ActorUser, Scopes: []string{httpapi.ScopeIncidentsRead}},
			writerToken: {ID: "grafana", Kind: events.ActorIntegration, Scopes: []string{httpapi.ScopeIncidentsWrite}},
			adminBoot:   {ID: "admin", Name: "admin", Kind: events.ActorUser, Scopes: []string{httpapi.ScopeAdmin}},
		}
	}
	c := &clock{now: time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)}
	if cfg.Publish == nil {
		cfg.Publish = func(context.Context, events.Envelope) error { return nil }
	}
	cfg.TokenID, cfg.Now = tokenID, c.Now
	srv, err := httpapi.New(authn, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	se, err := httpapi.NewSecurityEvents(slog.New(slog.DiscardHandler), prometheus.NewRegistry(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv.SetSecurityEvents(se)
	for _, route := range []string{"GET /read", "GET /other"} {
		srv.Handle(route, httpapi.ScopeIncidentsRead, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	}
	srv.Handle("POST /write", httpapi.ScopeIncidentsWrite, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	return &secFixture{srv: srv, se: se, clock: c}
}

type req struct {
	method, path, token, addr, ua, requestID string
}

// do serves one request in-process (the remote address is the test's to
// choose) and returns its status.
func (f *secFixture) do(t *testing.T, q req) int {
	t.Helper()
	if q.method == "" {
		q.method = "GET"
	}
	r := httptest.NewRequest(q.method, q.path, nil)
	if q.addr != "" {
		r.RemoteAddr = q.addr
	}
	if q.token != "" {
		r.Header.Set("Authorization", "Bearer "+q.token)
	}
	if q.ua != "" {
		r.Header.Set("User-Agent", q.ua)
	}
	if q.requestID != "" {
		r.Header.Set("X-Request-Id", q.requestID)
	}
	w := httptest.NewRecorder()
	f.srv.Handler().ServeHTTP(w, r)
	return w.Code
}

func denied(t *testing.T, env events.Envelope) events.AuthDenied {
	t.Helper()
	var d events.AuthDenied
	if env.Type != events.TypeAuthDenied {
		t.Fatalf("event %s, want %s", env.Type, events.TypeAuthDenied)
	}
	if err := json.Unmarshal(env.Data, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

func used(t *testing.T, env events.Envelope) events.TokenUsed {
	t.Helper()
	var u events.TokenUsed
	if env.Type != events.TypeTokenUsed {
		t.Fatalf("event %s, want %s", env.Type, events.TypeTokenUsed)
	}
	if err := json.Unmarshal(env.Data, &u); err != nil {
		t.Fatal(err)
	}
	return u
}

// TestSecurityEventContents: each kind of refusal and a token's use
// become one event that names the route, scope, reason, caller and
// request, validates against its schema, and holds no secret.
func TestSecurityEventContents(t *testing.T) {
	t.Parallel()
	v, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	const rid = "0195f3a2-7c4e-7b3a-9d2e-6f1a2b3c4d5e"
	longUA := strings.Repeat("é", 300)
	tests := []struct {
		name   string
		req    req
		status int
		check  func(t *testing.T, env events.Envelope)
	}{
		{"no token", req{path: "/read", addr: "198.51.100.7:40000", ua: "curl/8.5.0"}, 401, func(t *testing.T, env events.Envelope) {
			d := denied(t, env)
			want := events.AuthDenied{Reason: events.DenyMissingToken, Status: 401, Method: "GET", Route: "GET /read",
				Scope: httpapi.ScopeIncidentsRead, RemoteAddr: "198.51.100.7", UserAgent: "curl/8.5.0"}
			if d != want || env.Actor != httpapi.AnonymousActor || env.Subject != "" {
				t.Fatalf("got %+v actor %+v subject %q, want %+v by %+v", d, env.Actor, env.Subject, want, httpapi.AnonymousActor)
			}
		}},
		{"forged secret of a real token id", req{path: "/read", token: forgedToken, addr: "198.51.100.7:40001"}, 401, func(t *testing.T, env events.Envelope) {
			d := denied(t, env)
			if d.Reason != events.DenyInvalidToken || d.TokenID != readerID || d.Principal != "" || env.Actor != httpapi.AnonymousActor {
				t.Fatalf("got %+v by %+v", d, env.Actor)
			}
		}},
		{"garbage token", req{path: "/read", token: "hunter2", addr: "[2001:db8::1]:5000"}, 401, func(t *testing.T, env events.Envelope) {
			d := denied(t, env)
			if d.Reason != events.DenyInvalidToken || d.TokenID != "" || d.RemoteAddr != "2001:db8::1" {
				t.Fatalf("got %+v", d)
			}
		}},
		{"token without the scope", req{method: "POST", path: "/write", token: readerToken, addr: "192.0.2.1:1234", ua: longUA}, 403, func(t *testing.T, env events.Envelope) {
			d := denied(t, env)
			if d.Reason != events.DenyMissingScope || d.Status != 403 || d.Route != "POST /write" || d.Scope != httpapi.ScopeIncidentsWrite ||
				d.TokenID != readerID || d.Principal != "rita" || env.Subject != readerID {
				t.Fatalf("got %+v subject %q", d, env.Subject)
			}
			if env.Actor != (events.Actor{Kind: events.ActorUser, ID: "rita", Name: "Rita's laptop", Channel: events.ChannelAPI}) {
				t.Fatalf("actor %+v", env.Actor)
			}
			if d.UserAgent != strings.Repeat("é", 256) {
				t.Fatalf("user agent of %d characters kept as %d bytes", 300, len(d.UserAgent))
			}
		}},
		{"token use", req{path: "/read", token: readerToken, addr: "192.0.2.1:1234", ua: "firebreak-cli"}, 204, func(t *testing.T, env events.Envelope) {
			u := used(t, env)
			want := events.TokenUsed{TokenID: readerID, Principal: "rita", Method: "GET", Route: "GET /read",
				RemoteAddr: "192.0.2.1", UserAgent: "firebreak-cli", Uses: 1}
			if u != want || env.Subject != readerID || env.Actor.ID != "rita" {
				t.Fatalf("got %+v subject %q actor %+v, want %+v", u, env.Subject, env.Actor, want)
			}
		}},
		{"bootstrap admin use", req{path: "/read", token: adminBoot, addr: "127.0.0.1:9"}, 204, func(t *testing.T, env events.Envelope) {
			u := used(t, env)
			if u.TokenID != "" || u.Principal != "admin" || u.Uses != 1 {
				t.Fatalf("got %+v", u)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newSecFixture(t, nil, httpapi.SecurityConfig{})
			tt.req.requestID = rid
			if got := f.do(t, tt.req); got != tt.status {
				t.Fatalf("status %d, want %d", got, tt.status)
			}
			envs := f.se.Pending()
			if len(envs) != 1 {
				t.Fatalf("%d events, want 1: %+v", len(envs), envs)
			}
			env := envs[0]
			tt.check(t, env)
			if env.Source != httpapi.SecuritySource || env.CorrelationID != rid || !env.Time.Equal(f.clock.Now()) {
				t.Errorf("envelope source %q correlation %q time %s", env.Source, env.CorrelationID, env.Time)
			}
			b, err := env.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if err := v.Validate(b); err != nil {
				t.Errorf("event does not match its schema: %v\n%s", err, b)
			}
			for _, secret := range []string{readerSecret, "F0rged", "hunter2", "bootstrap_secret", "Bearer"} {
				if bytes.Contains(b, []byte(secret)) {
					t.Errorf("event holds %q: %s", secret, b)
				}
			}
		})
	}
}

// TestNoEventWhenAuthenticatorIsDown: a token store that cannot answer
// is an outage (503), not a refusal of the caller.
func TestNoEventWhenAuthenticatorIsDown(t *testing.T) {
	t.Parallel()
	f := newSecFixture(t, unavailable{}, httpapi.SecurityConfig{})
	if got := f.do(t, req{path: "/read", token: readerToken}); got != 503 {
		t.Fatalf("status %d", got)
	}
	if envs := f.se.Pending(); len(envs) != 0 {
		t.Fatalf("events %+v", envs)
	}
}

// TestDeniedThrottle: a burst of identical denials is one event; the
// next one after the window carries the count held back, and every
// denial is accounted for. Keys differ by caller, route and reason.
func TestDeniedThrottle(t *testing.T) {
	t.Parallel()
	f := newSecFixture(t, nil, httpapi.SecurityConfig{})
	attacker := req{path: "/read", addr: "203.0.113.9:1000"}
	for i := range 100 {
		attacker.addr = fmt.Sprintf("203.0.113.9:%d", 1000+i) // a new connection each time
		if got := f.do(t, attacker); got != 401 {
			t.Fatalf("status %d", got)
		}
	}
	envs := f.se.Pending()
	if len(envs) != 1 || denied(t, envs[0]).Suppressed != 0 {
		t.Fatalf("100 denials made %d events: %+v", len(envs), envs)
	}

	// Each other key is reported on its own.
	f.do(t, req{path: "/other", addr: "203.0.113.9:1"})                                 // other route
	f.do(t, req{path: "/read", addr: "203.0.113.9:1", token: "junk"})                   // other reason
	f.do(t, req{path: "/read", addr: "203.0.113.10:1"})                                 // other address
	f.do(t, req{path: "/read", addr: "[2001:db8:1:2::1]:1"})                            // an IPv6 caller…
	f.do(t, req{path: "/read", addr: "[2001:db8:1:2:ffff::9]:1"})                       // …is its /64
	f.do(t, req{method: "POST", path: "/write", token: readerToken, addr: "a:1"})       // a token…
	f.do(t, req{method: "POST", path: "/write", token: readerToken, addr: "b:1"})       // …is itself from anywhere
	f.do(t, req{method: "POST", path: "/write", token: writerToken + "x", addr: "a:1"}) // another reason
	if envs := f.se.Pending(); len(envs) != 6 {
		t.Fatalf("%d events for 6 new keys: %+v", len(envs), envs)
	}

	f.clock.Advance(59 * time.Second)
	for range 10 {
		f.do(t, attacker)
	}
	if envs := f.se.Pending(); len(envs) != 0 {
		t.Fatalf("events within the window: %+v", envs)
	}
	f.clock.Advance(time.Second)
	f.do(t, attacker)
	envs = f.se.Pending()
	if len(envs) != 1 || denied(t, envs[0]).Suppressed != 99+10 {
		t.Fatalf("after the window: %+v", envs)
	}
	// The window restarts at that report.
	f.clock.Advance(30 * time.Second)
	f.do(t, attacker)
	if envs := f.se.Pending(); len(envs) != 0 {
		t.Fatalf("events within the new window: %+v", envs)
	}
}

// TestDeniedSweep: denials held back are reported by the sweep once the
// window is over, even if the caller stopped; keys with nothing held are
// then forgotten.
func TestDeniedSweep(t *testing.T) {
	t.Parallel()
	f := newSecFixture(t, nil, httpapi.SecurityConfig{})
	for i := range 10 {
		f.do(t, req{path: "/read", addr: "203.0.113.9:1", ua: fmt.Sprintf("try-%d", i)})
	}
	f.do(t, req{path: "/other", addr: "203.0.113.9:1"})
	if envs := f.se.Pending(); len(envs) != 2 {
		t.Fatalf("%d events", len(envs))
	}
	f.se.Sweep()
	if envs := f.se.Pending(); len(envs) != 0 {
		t.Fatalf("sweep within the window reported %+v", envs)
	}
	f.clock.Advance(time.Minute)
	f.se.Sweep()
	envs := f.se.Pending()
	if len(envs) != 1 {
		t.Fatalf("sweep after the window: %d events", len(envs))
	}
	// The event stands for the last denial held back and the 8 before it.
	if d := denied(t, envs[0]); d.Suppressed != 8 || d.UserAgent != "try-9" || d.Route != "GET /read" {
		t.Fatalf("swept %+v", d)
	}
	if n, _, _ := f.se.Keys(); n != 1 {
		t.Fatalf("%d keys after the sweep, want the reported one", n)
	}
	f.clock.Advance(time.Minute)
	f.se.Sweep()
	if n, _, _ := f.se.Keys(); n != 0 || len(f.se.Pending()) != 0 {
		t.Fatalf("%d keys stay after a quiet window", n)
	}
}

// TestDeniedTableBounded: callers spraying new addresses fill the table;
// after that their denials are counted per route and reason (overflow),
// so neither memory nor events grow with the number of addresses.
func TestDeniedTableBounded(t *testing.T) {
	t.Parallel()
	f := newSecFixture(t, nil, httpapi.SecurityConfig{MaxDeniedKeys: 4})
	for i := range 1000 {
		f.do(t, req{path: "/read", addr: fmt.Sprintf("10.0.%d.%d:1", i/250, i%250)})
	}
	envs := f.se.Pending()
	if len(envs) != 5 {
		t.Fatalf("1000 addresses made %d events, want 4 + 1 overflow", len(envs))
	}
	for i, env := range envs {
		if d := denied(t, env); d.Overflow != (i == 4) {
			t.Fatalf("event %d: %+v", i, d)
		}
	}
	if d, o, _ := f.se.Keys(); d != 4 || o != 1 {
		t.Fatalf("keys %d + %d overflow", d, o)
	}
	// Once the window is over, a new address takes the place of an
	// expired one, and the sweep reports what overflow held.
	f.clock.Advance(time.Minute)
	f.do(t, req{path: "/read", addr: "192.0.2.200:1"})
	if envs := f.se.Pending(); len(envs) != 1 || denied(t, envs[0]).Overflow {
		t.Fatalf("new address after the window: %+v", envs)
	}
	f.se.Sweep()
	envs = f.se.Pending()
	if len(envs) != 1 || !denied(t, envs[0]).Overflow || denied(t, envs[0]).Suppressed != 995-1 {
		t.Fatalf("swept overflow %+v", envs)
	}
}

// TestTokenUsedThrottle: a token's first use is reported, then at most
// one event per interval with the uses since the previous one.
func TestTokenUsedThrottle(t *testing.T) {
	t.Parallel()
	f := newSecFixture(t, nil, httpapi.SecurityConfig{MaxTokens: 2})
	for range 1000 {
		if got := f.do(t, req{path: "/read", token: readerToken}); got != 204 {
			t.Fatalf("status %d", got)
		}
	}
	envs := f.se.Pending()
	if len(envs) != 1 || used(t, envs[0]).Uses != 1 {
		t.Fatalf("1000 uses made %+v", envs)
	}
	f.clock.Advance(59 * time.Minute)
	f.do(t, req{path: "/other", token: readerToken, addr: "192.0.2.77:1"})
	if envs := f.se.Pending(); len(envs) != 0 {
		t.Fatalf("events within the hour: %+v", envs)
	}
	f.clock.Advance(time.Minute)
	f.do(t, req{path: "/other", token: readerToken, addr: "192.0.2.78:1"})
	envs = f.se.Pending()
	if len(envs) != 1 {
		t.Fatalf("%d events after the hour", len(envs))
	}
	// 999 held after the first, 1 at 59 minutes, and this one.
	if u := used(t, envs[0]); u.Uses != 1001 || u.Route != "GET /other" || u.RemoteAddr != "192.0.2.78" {
		t.Fatalf("after the hour %+v", u)
	}
	f.do(t, req{path: "/read", token: readerToken, addr: "192.0.2.79:1"})

	// The table holds two tokens: a third makes the one reported longest
	// ago be reported with what it held, and forgotten.
	f.do(t, req{method: "POST", path: "/write", token: writerToken})
	f.do(t, req{method: "POST", path: "/write", token: writerToken})
	f.do(t, req{path: "/read", token: adminBoot})
	envs = f.se.Pending()
	if len(envs) != 3 {
		t.Fatalf("%d events", len(envs))
	}
	if u := used(t, envs[0]); u.Principal != "grafana" || u.Uses != 1 {
		t.Fatalf("first writer use %+v", u)
	}
	if u := used(t, envs[1]); u.Principal != "rita" || u.Uses != 1 || u.RemoteAddr != "192.0.2.79" {
		t.Fatalf("evicted %+v, want rita's token", u)
	}
	if u := used(t, envs[2]); u.Principal != "admin" || u.TokenID != "" {
		t.Fatalf("bootstrap admin %+v", u)
	}
	if _, _, n := f.se.Keys(); n != 2 {
		t.Fatalf("%d tokens kept", n)
	}
}

// TestRunPublishesAndFlushesAtShutdown: Run publishes what is queued and,
// when stopped, reports the denials the throttle still held (not the
// token uses).
func TestRunPublishesAndFlushesAtShutdown(t *testing.T) {
	t.Parallel()
	got := make(chan events.Envelope, 100)
	f := newSecFixture(t, nil, httpapi.SecurityConfig{Publish: func(_ context.Context, env events.Envelope) error {
		got <- env
		return nil
	}})
	for range 5 {
		f.do(t, req{path: "/read", addr: "203.0.113.9:1"})
	}
	f.do(t, req{path: "/read", token: readerToken})
	f.do(t, req{path: "/read", token: readerToken})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.se.Run(ctx) }()
	select {
	case env := <-got:
		if denied(t, env).Suppressed != 0 {
			t.Fatalf("first %+v", env)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("nothing published")
	}
	select {
	case env := <-got:
		if used(t, env).Uses != 1 {
			t.Fatalf("second %+v", env)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("token use not published")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	close(got)
	var rest []events.Envelope
	for env := range got {
		rest = append(rest, env)
	}
	if len(rest) != 1 || denied(t, rest[0]).Suppressed != 3 {
		t.Fatalf("at shutdown %+v", rest)
	}
}

// TestPublishFailuresAreLoggedWithoutSecrets: a bus that refuses, and a
// full queue, are logged loudly; the log names no token secret.
func TestPublishFailuresAreLoggedWithoutSecrets(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	c := &clock{now: time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)}
	se, err := httpapi.NewSecurityEvents(slog.New(slog.NewJSONHandler(&logs, nil)), nil, httpapi.SecurityConfig{
		Publish: func(context.Context, events.Envelope) error { return errors.New("nats: no responders available") },
		TokenID: tokenID, Now: c.Now, QueueSize: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := httpapi.New(tokens{readerToken: {ID: "rita", Scopes: []string{httpapi.ScopeIncidentsRead}}}, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	srv.SetSecurityEvents(se)
	srv.Handle("POST /write", httpapi.ScopeIncidentsWrite, func(w http.ResponseWriter, r *http.Request) {})
	for _, tok := range []string{readerToken, forgedToken, "", "x"} {
		r := httptest.NewRequest("POST", "/write", nil)
		if tok != "" {
			r.Header.Set("Authorization", "Bearer "+tok)
		}
		srv.Handler().ServeHTTP(httptest.NewRecorder(), r)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := se.Run(ctx); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	if strings.Count(out, "publish security event") != 2 || !strings.Contains(out, `"dropped":2`) {
		t.Fatalf("log does not report the failures and drops:\n%s", out)
	}
	if strings.Contains(out, readerSecret) || strings.Contains(out, "F0rged") {
		t.Fatalf("log holds a secret:\n%s", out)
	}
}
