package httpapi_test

import (
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/fault"
	"github.com/firebreak-dev/firebreak/internal/httpapi"
	"github.com/firebreak-dev/firebreak/schemas"
)

var errSelfApproval = fault.New(fault.Forbidden, "self_approval", "the author cannot approve")

// TestHandlerDenials: a public route's handler reports its own refusal
// (anonymous, with the integration it names when that is an id, never
// more than once per request, throttled like the server's); a handler's
// 403 to a valid token is reported with its error code and the
// principal; a 403 from missing scope is reported once, by the server.
func TestHandlerDenials(t *testing.T) {
	t.Parallel()
	v, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	f := newSecFixture(t, nil, httpapi.SecurityConfig{})
	f.srv.HandlePublic("POST /hook/{id}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpapi.Deny(r, httpapi.Denial{Reason: events.DenyInvalidSignature, Status: http.StatusUnauthorized, Integration: r.PathValue("id")})
		httpapi.Deny(r, httpapi.Denial{Reason: events.DenyStaleSignature, Status: http.StatusUnauthorized})
		httpapi.WriteError(w, r, slog.New(slog.DiscardHandler), fault.New(fault.Unauthorized, "signature_invalid", "bad signature"))
	}))
	f.srv.Handle("POST /approve", httpapi.ScopeIncidentsRead, func(w http.ResponseWriter, r *http.Request) {
		httpapi.WriteError(w, r, slog.New(slog.DiscardHandler), fault.Wrap(errSelfApproval, "alice wrote it"))
	})

	if st := f.do(t, req{method: "POST", path: "/hook/4e07408562bedb8b", addr: "198.51.100.7:1"}); st != 401 {
		t.Fatalf("hook: %d", st)
	}
	got := f.se.Pending()
	if len(got) != 1 {
		t.Fatalf("%d events for one refused request, want 1", len(got))
	}
	d := denied(t, got[0])
	want := events.AuthDenied{Reason: events.DenyInvalidSignature, Status: 401, Method: "POST", Route: "POST /hook/{id}",
		Integration: "4e07408562bedb8b", RemoteAddr: "198.51.100.7"}
	if d != want || got[0].Actor != httpapi.AnonymousActor {
		t.Fatalf("got %+v by %+v, want %+v", d, got[0].Actor, want)
	}
	// A claimed integration that is not an id is left out; the same
	// address's next refusals within the window are held back.
	for range 5 {
		f.do(t, req{method: "POST", path: "/hook/..%2F..%2Fetc", addr: "198.51.100.7:2"})
	}
	if n := len(f.se.Pending()); n != 0 {
		t.Fatalf("%d events for refusals within the window", n)
	}
	f.clock.Advance(2 * time.Minute)
	f.do(t, req{method: "POST", path: "/hook/not-an-id", addr: "198.51.100.7:3"})
	got = f.se.Pending()
	if len(got) != 1 {
		t.Fatalf("%d events after the window", len(got))
	}
	if d := denied(t, got[0]); d.Integration != "" || d.Suppressed != 5 {
		t.Fatalf("after the window: %+v", d)
	}

	// A handler's 403 to a valid token.
	if st := f.do(t, req{method: "POST", path: "/approve", token: readerToken, addr: "192.0.2.1:1"}); st != 403 {
		t.Fatalf("approve: %d", st)
	}
	got = deniedOnly(f.se.Pending())
	if len(got) != 1 {
		t.Fatalf("%d events for a handler's 403", len(got))
	}
	d = denied(t, got[0])
	if d.Reason != "self_approval" || d.Status != 403 || d.Route != "POST /approve" || d.Scope != httpapi.ScopeIncidentsRead ||
		d.TokenID != readerID || d.Principal != "rita" || got[0].Actor.ID != "rita" || got[0].Subject != readerID {
		t.Fatalf("handler 403: %+v by %+v", d, got[0].Actor)
	}
	// A missing scope is the server's refusal, reported once.
	if st := f.do(t, req{method: "POST", path: "/write", token: readerToken, addr: "192.0.2.1:2"}); st != 403 {
		t.Fatalf("write: %d", st)
	}
	got = append(got, deniedOnly(f.se.Pending())...)
	if len(got) != 2 || denied(t, got[1]).Reason != events.DenyMissingScope {
		t.Fatalf("missing scope: %d events", len(got)-1)
	}
	for _, env := range got {
		b, err := env.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if err := v.Validate(b); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
	}
}

// TestDenyWithoutSecurityEvents: a server that reports nothing answers
// handler refusals as usual.
func TestDenyWithoutSecurityEvents(t *testing.T) {
	t.Parallel()
	srv, err := httpapi.New(httpapi.NewAdminToken(adminBoot), slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	srv.HandlePublic("POST /hook", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpapi.Deny(r, httpapi.Denial{Reason: events.DenyInvalidSignature, Status: http.StatusUnauthorized})
		w.WriteHeader(http.StatusUnauthorized)
	}))
	f := &secFixture{srv: srv}
	if st := f.do(t, req{method: "POST", path: "/hook"}); st != 401 {
		t.Fatalf("hook: %d", st)
	}
}

// deniedOnly leaves out the token.used events.
func deniedOnly(envs []events.Envelope) []events.Envelope {
	var out []events.Envelope
	for _, env := range envs {
		if env.Type == events.TypeAuthDenied {
			out = append(out, env)
		}
	}
	return out
}
