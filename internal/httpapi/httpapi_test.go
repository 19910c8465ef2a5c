package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/fault"
	"github.com/firebreak-dev/firebreak/internal/httpapi"
)

// tokens maps tokens to principals, for scope tests.
type tokens map[string]httpapi.Principal

func (ts tokens) Authenticate(_ context.Context, tok string) (httpapi.Principal, error) {
	if p, ok := ts[tok]; ok {
		return p, nil
	}
	return httpapi.Principal{}, httpapi.ErrBadToken
}

func newServer(t *testing.T, authn httpapi.Authenticator) (*httpapi.Server, *httptest.Server) {
	t.Helper()
	s, err := httpapi.New(authn, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	s.Handle("GET /read", httpapi.ScopeIncidentsRead, func(w http.ResponseWriter, r *http.Request) {
		httpapi.WriteJSON(w, 200, httpapi.ActorOf(r))
	})
	s.Handle("POST /write", httpapi.ScopeIncidentsWrite, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(204)
	})
	s.Handle("GET /panic", httpapi.ScopeIncidentsRead, func(w http.ResponseWriter, r *http.Request) {
		panic("secret connection string postgres://u:hunter2@db")
	})
	s.Handle("GET /boom", httpapi.ScopeIncidentsRead, func(w http.ResponseWriter, r *http.Request) {
		httpapi.WriteError(w, r, slog.New(slog.DiscardHandler), errors.New("dial tcp: password hunter2 rejected"))
	})
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return s, ts
}

type errBody struct {
	Error httpapi.ErrorDetail `json:"error"`
}

func call(t *testing.T, method, url, token string, hdr map[string]string) (*http.Response, errBody, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var raw json.RawMessage
	_ = json.NewDecoder(resp.Body).Decode(&raw)
	var eb errBody
	_ = json.Unmarshal(raw, &eb)
	return resp, eb, string(raw)
}

func TestAuthAndScopes(t *testing.T) {
	t.Parallel()
	_, ts := newServer(t, tokens{
		"reader": {ID: "rita", Kind: events.ActorUser, Scopes: []string{httpapi.ScopeIncidentsRead}},
		"admin":  {ID: "root", Kind: events.ActorUser, Scopes: []string{httpapi.ScopeAdmin}},
	})
	tests := []struct {
		name, method, path, token string
		status                    int
		code                      string
	}{
		{"no token", "GET", "/read", "", 401, "unauthorized"},
		{"unknown token", "GET", "/read", "guess", 401, "unauthorized"},
		{"reader reads", "GET", "/read", "reader", 200, ""},
		{"reader cannot write", "POST", "/write", "reader", 403, "missing_scope"},
		{"admin writes", "POST", "/write", "admin", 204, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, eb, raw := call(t, tt.method, ts.URL+tt.path, tt.token, nil)
			if resp.StatusCode != tt.status || eb.Error.Code != tt.code {
				t.Fatalf("got %d %s, want %d %s", resp.StatusCode, raw, tt.status, tt.code)
			}
			if tt.status == 401 && resp.Header.Get("WWW-Authenticate") == "" {
				t.Fatal("401 without WWW-Authenticate")
			}
			if tt.code == "missing_scope" && eb.Error.Details["scope"] != httpapi.ScopeIncidentsWrite {
				t.Fatalf("403 does not name the scope: %s", raw)
			}
		})
	}
}

func TestAdminToken(t *testing.T) {
	t.Parallel()
	a := httpapi.NewAdminToken("fb_admin_s3cret")
	if _, err := a.Authenticate(context.Background(), "fb_admin_s3cret"); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "fb_admin_s3cre", "fb_admin_s3cret ", "FB_ADMIN_S3CRET"} {
		if _, err := a.Authenticate(context.Background(), bad); !errors.Is(err, fault.Unauthorized) {
			t.Errorf("token %q: got %v", bad, err)
		}
	}
}

func TestActorChannel(t *testing.T) {
	t.Parallel()
	_, ts := newServer(t, tokens{"t": {ID: "alice", Scopes: []string{httpapi.ScopeAdmin}}})
	for hdr, want := range map[string]events.Channel{"": events.ChannelAPI, "cli": events.ChannelCLI, "slack": events.ChannelAPI} {
		_, _, raw := call(t, "GET", ts.URL+"/read", "t", map[string]string{httpapi.ChannelHeader: hdr})
		var a events.Actor
		if err := json.Unmarshal([]byte(raw), &a); err != nil || a.Channel != want || a.ID != "alice" || a.Kind != events.ActorUser {
			t.Errorf("channel header %q: actor %s, want channel %s", hdr, raw, want)
		}
	}
}

func TestInternalErrorsDoNotLeak(t *testing.T) {
	t.Parallel()
	_, ts := newServer(t, tokens{"t": {ID: "a", Scopes: []string{httpapi.ScopeAdmin}}})
	for _, path := range []string{"/panic", "/boom"} {
		resp, eb, raw := call(t, "GET", ts.URL+path, "t", nil)
		if resp.StatusCode != 500 || eb.Error.Code != "internal" || strings.Contains(raw, "hunter2") {
			t.Errorf("%s: %d %s", path, resp.StatusCode, raw)
		}
	}
}

func TestHealthReadyAndRequestID(t *testing.T) {
	t.Parallel()
	s, ts := newServer(t, tokens{})
	if resp, _, _ := call(t, "GET", ts.URL+"/healthz", "", nil); resp.StatusCode != 200 {
		t.Fatalf("healthz %d", resp.StatusCode)
	}
	s.AddReadyCheck("db", func(context.Context) error { return errors.New("db down") })
	resp, _, raw := call(t, "GET", ts.URL+"/readyz", "", nil)
	if resp.StatusCode != 503 || !strings.Contains(raw, "db down") {
		t.Fatalf("readyz with failing check: %d %s", resp.StatusCode, raw)
	}
	id := "0195f3a2-7c4e-7b3a-9d2e-6f1a2b3c4d5e"
	resp, _, _ = call(t, "GET", ts.URL+"/read", "", map[string]string{"X-Request-Id": id})
	if resp.Header.Get("X-Request-Id") != id {
		t.Fatalf("request id not echoed: %q", resp.Header.Get("X-Request-Id"))
	}
	resp, _, _ = call(t, "GET", ts.URL+"/read", "", map[string]string{"X-Request-Id": "<script>"})
	if got := resp.Header.Get("X-Request-Id"); got == "<script>" || got == "" {
		t.Fatalf("untrusted request id kept: %q", got)
	}
	if resp, _, _ := call(t, "GET", ts.URL+"/metrics", "", nil); resp.StatusCode != 200 {
		t.Fatalf("metrics %d", resp.StatusCode)
	}
}

func TestDecodeJSONErrors(t *testing.T) {
	t.Parallel()
	type body struct {
		N    int      `json:"n"`
		S    string   `json:"s"`
		List []string `json:"list"`
	}
	tests := []struct {
		in, code, field, msg string
	}{
		{``, "empty_body", "", "empty"},
		{`{"n":`, "malformed_json", "", "unexpected end"},
		{`{"n":1,}`, "malformed_json", "", "byte"},
		{`{"n":"x"}`, "invalid_field", "n", "must be an integer"},
		{`{"list":{}}`, "invalid_field", "list", "must be an array"},
		{`{"zzz":1}`, "invalid_field", "zzz", "unknown field"},
		{`{"n":1}{"n":2}`, "malformed_json", "", "after the JSON object"},
		{`[1]`, "invalid_field", "(body)", "must be an object"},
	}
	for _, tt := range tests {
		var b body
		err := httpapi.DecodeJSON([]byte(tt.in), &b)
		if fault.CodeOf(err) != tt.code || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("DecodeJSON(%q) = %v (code %s), want code %s containing %q", tt.in, err, fault.CodeOf(err), tt.code, tt.msg)
			continue
		}
		if tt.field != "" && fault.DetailsOf(err)["field"] != tt.field {
			t.Errorf("DecodeJSON(%q) names field %v, want %s", tt.in, fault.DetailsOf(err)["field"], tt.field)
		}
	}
}
