package token

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/bus"
	"github.com/firebreak-dev/firebreak/internal/httpapi"
	"github.com/firebreak-dev/firebreak/schemas"
)

// apiServer serves the token endpoints behind the bootstrap admin token
// "root-secret" and scoped tokens, publishing events on real JetStream.
func apiServer(t *testing.T) (*httptest.Server, *process, *eventLog) {
	t.Helper()
	e := server(t)
	p := newProcess(t, e, AuthConfig{})
	js, err := jetstream.New(p.nc)
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.EnsureStreams(context.Background(), js, 1); err != nil {
		t.Fatal(err)
	}
	log := &eventLog{}
	sub, err := p.nc.Subscribe("fb.evt.token.>", func(m *nats.Msg) {
		log.mu.Lock()
		log.msgs = append(log.msgs, m.Data)
		log.mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	if err := p.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	srv, err := httpapi.New(Chain{httpapi.NewAdminToken("root-secret"), p.auth}, p.auth.logger, nil)
	if err != nil {
		t.Fatal(err)
	}
	NewAPI(p.store, p.auth, bus.NewPublisher(js, nil), nil).Routes(srv)
	p.run(t)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return hs, p, log
}

type eventLog struct {
	mu   sync.Mutex
	msgs [][]byte
}

func (l *eventLog) all() [][]byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([][]byte(nil), l.msgs...)
}

func call(t *testing.T, hs *httptest.Server, tok, method, path, body string) (int, []byte) {
	t.Helper()
	var r *bytes.Reader
	if body != "" {
		r = bytes.NewReader([]byte(body))
	} else {
		r = bytes.NewReader(nil)
	}
	req, err := http.NewRequest(method, hs.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
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

func TestAPI(t *testing.T) {
	t.Parallel()
	hs, _, log := apiServer(t)

	status, body := call(t, hs, "root-secret", "POST", "/api/v1/tokens",
		`{"user":"grafana","scopes":["incidents:write","incidents:read"],"name":"grafana on prod","integration":true}`)
	if status != http.StatusCreated {
		t.Fatalf("create: %d %s", status, body)
	}
	var created CreatedJSON
	if err := json.Unmarshal(body, &created); err != nil {
		t.Fatal(err)
	}
	if created.Secret == "" || created.User != "grafana" || created.Kind != events.ActorIntegration ||
		strings.Join(created.Scopes, ",") != "incidents:read,incidents:write" || created.CreatedBy != "admin" {
		t.Fatalf("created %s", body)
	}
	if bytes.Contains(body, []byte("sha256")) {
		t.Fatalf("create answer shows the hash: %s", body)
	}

	// The new token works, within its scopes: it may not manage tokens.
	status, body = call(t, hs, created.Secret, "GET", "/api/v1/tokens", "")
	if status != http.StatusForbidden || !bytes.Contains(body, []byte(`"scope":"admin"`)) {
		t.Fatalf("scoped token on an admin route: %d %s", status, body)
	}

	status, body = call(t, hs, "root-secret", "GET", "/api/v1/tokens", "")
	if status != http.StatusOK {
		t.Fatalf("list: %d %s", status, body)
	}
	if bytes.Contains(body, []byte(created.Secret)) || bytes.Contains(body, []byte("sha256")) || bytes.Contains(body, []byte(`"token"`)) {
		t.Fatalf("list shows a secret or hash: %s", body)
	}
	var list ListJSON
	if err := json.Unmarshal(body, &list); err != nil || len(list.Items) != 1 || list.Items[0].ID != created.ID {
		t.Fatalf("list %s %v", body, err)
	}

	status, body = call(t, hs, "root-secret", "DELETE", "/api/v1/tokens/"+created.ID, "")
	if status != http.StatusOK {
		t.Fatalf("revoke: %d %s", status, body)
	}
	var revoked Token
	if err := json.Unmarshal(body, &revoked); err != nil || !revoked.Revoked() || revoked.RevokedBy != "admin" {
		t.Fatalf("revoked %s %v", body, err)
	}
	// The revoking process refuses the token at once.
	if status, body = call(t, hs, created.Secret, "GET", "/api/v1/tokens", ""); status != http.StatusUnauthorized {
		t.Fatalf("revoked token: %d %s", status, body)
	}
	if status, body = call(t, hs, "root-secret", "DELETE", "/api/v1/tokens/"+created.ID, ""); status != http.StatusConflict {
		t.Fatalf("second revoke: %d %s", status, body)
	}
	if status, body = call(t, hs, "root-secret", "DELETE", "/api/v1/tokens/0123456789abcdef", ""); status != http.StatusNotFound {
		t.Fatalf("unknown id: %d %s", status, body)
	}

	// Both events, schema-valid, with no secret or hash.
	v, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "two token events", func() bool { return len(log.all()) == 2 })
	var types []string
	for _, m := range log.all() {
		if err := v.Validate(m); err != nil {
			t.Errorf("event does not match its schema: %v\n%s", err, m)
		}
		if bytes.Contains(m, []byte(created.Secret[len(prefix)+idLen+1:])) || bytes.Contains(m, []byte("sha256")) {
			t.Errorf("event carries the secret or hash: %s", m)
		}
		e, err := events.Decode(m)
		if err != nil {
			t.Fatal(err)
		}
		var d events.TokenCreated
		if err := e.DecodeData(&d); err != nil || d.TokenID != created.ID || e.Subject != created.ID ||
			e.Actor.ID != "admin" || e.Actor.Kind != events.ActorUser || d.Kind != events.ActorIntegration {
			t.Errorf("event %s: %+v %v", m, d, err)
		}
		types = append(types, e.Type)
	}
	if strings.Join(types, ",") != "token.created,token.revoked" {
		t.Fatalf("events %v", types)
	}
}

func TestAPIBadInput(t *testing.T) {
	t.Parallel()
	hs, _, log := apiServer(t)
	tests := []struct {
		name, body string
		status     int
		field      string
	}{
		{"unknown scope", `{"user":"alice","scopes":["incidents:read","root"]}`, 400, "scopes"},
		{"no scopes", `{"user":"alice","scopes":[]}`, 400, "scopes"},
		{"bad user", `{"user":"Alice Smith","scopes":["admin"]}`, 400, "user"},
		{"no user", `{"scopes":["admin"]}`, 400, "user"},
		{"long name", `{"user":"alice","scopes":["admin"],"name":"` + strings.Repeat("n", 101) + `"}`, 400, "name"},
		{"unknown field", `{"user":"alice","scopes":["admin"],"secret":"mine"}`, 400, "secret"},
		{"wrong type", `{"user":"alice","scopes":"admin"}`, 400, "scopes"},
		{"not JSON", `{`, 400, ""},
		{"empty", ``, 400, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := call(t, hs, "root-secret", "POST", "/api/v1/tokens", tt.body)
			if status != tt.status {
				t.Fatalf("%d %s", status, body)
			}
			if tt.field != "" && !bytes.Contains(body, []byte(`"field":"`+tt.field+`"`)) {
				t.Fatalf("answer does not name %s: %s", tt.field, body)
			}
		})
	}
	if status, body := call(t, hs, "wrong", "POST", "/api/v1/tokens", `{"user":"alice","scopes":["admin"]}`); status != http.StatusUnauthorized {
		t.Fatalf("bad token: %d %s", status, body)
	}
	if n := len(log.all()); n != 0 {
		t.Fatalf("%d events for refused requests", n)
	}
}
