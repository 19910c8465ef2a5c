package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/bus"
	"github.com/firebreak-dev/firebreak/internal/fault"
	"github.com/firebreak-dev/firebreak/internal/httpapi"
	"github.com/firebreak-dev/firebreak/schemas"
)

func server(t testing.TB) *bus.Embedded {
	t.Helper()
	e, err := bus.StartEmbedded(bus.EmbeddedConfig{StoreDir: t.TempDir(), ServerName: "integration-test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Shutdown)
	return e
}

// process is one firebreak process: its connection, store and key cache.
type process struct {
	nc    *nats.Conn
	js    jetstream.JetStream
	kv    jetstream.KeyValue
	store *Store
	keys  *Keys
}

func newProcess(t testing.TB, e *bus.Embedded) *process {
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
	store := NewStore(kv, nil)
	return &process{nc: nc, js: js, kv: kv, store: store, keys: NewKeys(store, nil)}
}

func (p *process) run(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.keys.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	select {
	case <-p.keys.Synced():
	case <-time.After(10 * time.Second):
		t.Fatal("keys never synced")
	}
}

func eventually(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if f() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func TestSpecValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		spec  Spec
		field string
	}{
		{"ok", Spec{Service: "checkout", Type: TypeEventsV2, Name: " prod "}, ""},
		{"no service", Spec{Type: TypeEventsV2}, "service"},
		{"bad service", Spec{Service: "a.b", Type: TypeEventsV2}, "service"},
		{"no type", Spec{Service: "checkout"}, "type"},
		{"bad type", Spec{Service: "checkout", Type: "nagios"}, "type"},
		{"long name", Spec{Service: "checkout", Type: TypeGeneric, Name: strings.Repeat("x", MaxNameLen+1)}, "name"},
		{"control in name", Spec{Service: "checkout", Type: TypeGeneric, Name: "a\nb"}, "name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := tc.spec.Validate()
			if tc.field == "" {
				if err != nil || got.Name != "prod" {
					t.Fatalf("got %+v, %v", got, err)
				}
				return
			}
			if fault.KindOf(err) != fault.Invalid || fault.DetailsOf(err)["field"] != tc.field {
				t.Fatalf("want an error on %s, got %v", tc.field, err)
			}
		})
	}
}

func TestNewKey(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 200 {
		k, err := NewKey()
		if err != nil {
			t.Fatal(err)
		}
		if !WellFormed(k) || seen[k] {
			t.Fatalf("key %q malformed or repeated", k)
		}
		seen[k] = true
	}
	for _, bad := range []string{"", strings.Repeat("a", KeyLen-1), strings.Repeat("A", KeyLen), strings.Repeat("a", KeyLen-1) + "-"} {
		if WellFormed(bad) {
			t.Errorf("WellFormed(%q)", bad)
		}
	}
}

// TestCreateLookupRevoke: a key resolves to its integration until revoked;
// then it is refused exactly like a key that never existed.
func TestCreateLookupRevoke(t *testing.T) {
	t.Parallel()
	p := newProcess(t, server(t))
	p.run(t)
	ctx := context.Background()
	c, err := p.store.Create(ctx, Spec{Service: "checkout", Type: TypeEventsV2, Name: "datadog"}, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if !WellFormed(c.Key) || c.SigningSecret != "" || c.CreatedBy != "admin" || c.Service != "checkout" {
		t.Fatalf("created %+v", c)
	}
	got, err := p.keys.Lookup(ctx, c.Key)
	if err != nil || got.ID != c.ID || got.Label() != "datadog" {
		t.Fatalf("lookup: %+v %v", got, err)
	}
	other, _ := NewKey()
	for _, k := range []string{other, "short", strings.ToUpper(c.Key), ""} {
		if _, err := p.keys.Lookup(ctx, k); !errors.Is(err, ErrUnknownKey) {
			t.Fatalf("lookup %q: %v", k, err)
		}
	}
	rev, err := p.store.Revoke(ctx, c.ID, "alice")
	if err != nil || !rev.Revoked() || rev.RevokedBy != "alice" {
		t.Fatalf("revoke: %+v %v", rev, err)
	}
	eventually(t, "revocation seen", func() bool {
		_, err := p.keys.Lookup(ctx, c.Key)
		return errors.Is(err, ErrUnknownKey)
	})
	_, errUnknown := p.keys.Lookup(ctx, other)
	_, errRevoked := p.keys.Lookup(ctx, c.Key)
	if errUnknown.Error() != errRevoked.Error() || fault.CodeOf(errUnknown) != fault.CodeOf(errRevoked) {
		t.Fatalf("revoked and unknown differ: %v / %v", errRevoked, errUnknown)
	}
	if _, err := p.store.Revoke(ctx, c.ID, "alice"); !errors.Is(err, ErrRevoked) {
		t.Fatalf("second revoke: %v", err)
	}
	if _, err := p.store.Revoke(ctx, "0123456789abcdef", "alice"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("revoke unknown: %v", err)
	}
	list, err := p.store.List(ctx)
	if err != nil || len(list) != 1 || !list[0].Revoked() {
		t.Fatalf("list: %+v %v", list, err)
	}
}

// TestStoredHashOnly: the bucket holds the key's hash as its key and never
// the key itself.
func TestStoredHashOnly(t *testing.T) {
	t.Parallel()
	p := newProcess(t, server(t))
	ctx := context.Background()
	c, err := p.store.Create(ctx, Spec{Service: "db", Type: TypeAlertmanager}, "admin")
	if err != nil {
		t.Fatal(err)
	}
	keys, err := p.kv.Keys(ctx)
	if err != nil || len(keys) != 1 || keys[0] != HashKey(c.Key) {
		t.Fatalf("bucket keys %v %v", keys, err)
	}
	e, err := p.kv.Get(ctx, keys[0])
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(e.Value(), []byte(c.Key)) {
		t.Fatalf("bucket value holds the key: %s", e.Value())
	}
}

// TestCacheMissFallback: a key created on another process works before
// this process's watcher has seen it.
func TestCacheMissFallback(t *testing.T) {
	t.Parallel()
	e := server(t)
	a, b := newProcess(t, e), newProcess(t, e)
	ctx := context.Background()
	// b's cache is never run: every lookup is a direct get.
	c, err := a.store.Create(ctx, Spec{Service: "db", Type: TypeGeneric}, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := b.keys.Lookup(ctx, c.Key); err != nil || got.ID != c.ID {
		t.Fatalf("fallback lookup: %+v %v", got, err)
	}
}

// TestGrafanaSigningSecret: a Grafana integration has a signing secret,
// shown once, usable for verification by id, erased on revocation.
func TestGrafanaSigningSecret(t *testing.T) {
	t.Parallel()
	p := newProcess(t, server(t))
	p.run(t)
	ctx := context.Background()
	c, err := p.store.Create(ctx, Spec{Service: "web", Type: TypeGrafana}, "admin")
	if err != nil || len(c.SigningSecret) != 64 {
		t.Fatalf("create: %+v %v", c, err)
	}
	var secret []byte
	eventually(t, "grafana integration cached", func() bool {
		var in Integration
		in, secret, err = p.keys.Signed(ctx, c.ID)
		return err == nil && in.ID == c.ID
	})
	if string(secret) != c.SigningSecret {
		t.Fatalf("the HMAC key should be the secret as shown")
	}
	am, err := p.store.Create(ctx, Spec{Service: "web", Type: TypeAlertmanager}, "admin")
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "alertmanager integration cached", func() bool { _, ok := p.keys.byIDCached(am.ID); return ok })
	if _, _, err := p.keys.Signed(ctx, am.ID); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("non-grafana by id: %v", err)
	}
	if _, _, err := p.keys.Signed(ctx, "zz"); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("bad id: %v", err)
	}
	if _, err := p.store.Revoke(ctx, c.ID, "admin"); err != nil {
		t.Fatal(err)
	}
	p.keys.Refresh(ctx, c.ID)
	if _, _, err := p.keys.Signed(ctx, c.ID); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("revoked grafana: %v", err)
	}
	hash := HashKey(c.Key)
	en, err := p.kv.Get(ctx, hash)
	if err != nil || bytes.Contains(en.Value(), []byte(c.SigningSecret)) {
		t.Fatalf("signing secret kept after revocation: %v", err)
	}
}

func TestEnsureBucketIdempotent(t *testing.T) {
	t.Parallel()
	p := newProcess(t, server(t))
	for range 2 {
		if _, err := EnsureBucket(context.Background(), p.js, 1); err != nil {
			t.Fatal(err)
		}
	}
}

// TestAPI drives the endpoints over HTTP: config:write is required, the key
// is shown once, the listing never shows it, the events match their schemas.
func TestAPI(t *testing.T) {
	t.Parallel()
	p := newProcess(t, server(t))
	if err := bus.EnsureStreams(context.Background(), p.js, 1); err != nil {
		t.Fatal(err)
	}
	var (
		mu   sync.Mutex
		msgs [][]byte
	)
	sub, err := p.nc.Subscribe("fb.evt.integration.>", func(m *nats.Msg) {
		mu.Lock()
		msgs = append(msgs, m.Data)
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	_ = p.nc.Flush()
	srv, err := httpapi.New(httpapi.NewAdminToken("root-secret"), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	NewAPI(p.store, p.keys, bus.NewPublisher(p.js, nil), nil).Routes(srv)
	p.run(t)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)

	call := func(tok, method, path, body string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, hs.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := hs.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(resp.Body)
		return resp.StatusCode, buf.Bytes()
	}
	if st, _ := call("wrong", "GET", "/api/v1/integrations", ""); st != 401 {
		t.Fatalf("no token: %d", st)
	}
	st, b := call("root-secret", "POST", "/api/v1/integrations", `{"service":"checkout","type":"grafana","name":"grafana prod"}`)
	var c Created
	if st != 201 || json.Unmarshal(b, &c) != nil || !WellFormed(c.Key) || c.SigningSecret == "" {
		t.Fatalf("create: %d %s", st, b)
	}
	if st, b := call("root-secret", "POST", "/api/v1/integrations", `{"service":"checkout","type":"nagios"}`); st != 400 || !bytes.Contains(b, []byte(`"field":"type"`)) {
		t.Fatalf("bad type: %d %s", st, b)
	}
	st, b = call("root-secret", "GET", "/api/v1/integrations", "")
	if st != 200 || bytes.Contains(b, []byte(c.Key)) || bytes.Contains(b, []byte(c.SigningSecret)) || !bytes.Contains(b, []byte(c.ID)) {
		t.Fatalf("list: %d %s", st, b)
	}
	if st, _ := call("root-secret", "DELETE", "/api/v1/integrations/"+c.ID, ""); st != 200 {
		t.Fatalf("revoke: %d", st)
	}
	if st, _ := call("root-secret", "DELETE", "/api/v1/integrations/"+c.ID, ""); st != 409 {
		t.Fatalf("revoke again: %d", st)
	}
	if st, _ := call("root-secret", "DELETE", "/api/v1/integrations/nope", ""); st != 404 {
		t.Fatalf("revoke unknown: %d", st)
	}
	if _, err := p.keys.Lookup(context.Background(), c.Key); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("revoked key still resolves: %v", err)
	}
	v, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "two events", func() bool { mu.Lock(); defer mu.Unlock(); return len(msgs) == 2 })
	mu.Lock()
	defer mu.Unlock()
	for i, want := range []string{events.TypeIntegrationCreated, events.TypeIntegrationRevoked} {
		env, err := events.Decode(msgs[i])
		if err != nil || env.Type != want {
			t.Fatalf("event %d: %v %v", i, env.Type, err)
		}
		if err := v.Validate(msgs[i]); err != nil {
			t.Fatalf("event %s: %v", want, err)
		}
		if bytes.Contains(msgs[i], []byte(c.Key)) || bytes.Contains(msgs[i], []byte(c.SigningSecret)) {
			t.Fatalf("event %s leaks a secret", want)
		}
	}
}
