package escalation_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/httpapi"
	"github.com/firebreak-dev/firebreak/services/escalation"
	"github.com/firebreak-dev/firebreak/services/escalation/schedule"
)

// tokens authenticates "admin" with every scope and "reader" with
// incidents:read only.
type tokens struct{}

func (tokens) Authenticate(_ context.Context, token string) (httpapi.Principal, error) {
	switch token {
	case "admin":
		return httpapi.Principal{ID: "admin", Kind: events.ActorUser, Scopes: []string{httpapi.ScopeAdmin}}, nil
	case "reader":
		return httpapi.Principal{ID: "reader", Kind: events.ActorUser, Scopes: []string{httpapi.ScopeIncidentsRead}}, nil
	}
	return httpapi.Principal{}, httpapi.ErrBadToken
}

func apiConfig() escalation.Config {
	c := twoLevels()
	c.Schedules = []schedule.Schedule{{
		Name: "primary", TimeZone: "UTC",
		Layers: []schedule.Layer{{Participants: []string{"alice", "bob"}, Start: t0,
			Shift: schedule.ShiftLength{Count: 1, Unit: schedule.Days}}},
		Overrides: []schedule.Override{{ID: "swap", User: "bob", Start: t0.Add(2 * time.Hour), End: t0.Add(3 * time.Hour)}},
	}}
	c.Policies[0].Levels[0].Targets = []escalation.Target{{Type: escalation.TargetSchedule, ID: "primary"}}
	return c
}

func TestHTTP(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, h *harness) {
		srv, err := httpapi.New(tokens{}, nil, prometheus.NewRegistry())
		if err != nil {
			t.Fatal(err)
		}
		h.svc.Routes(srv, nil)
		ts := httptest.NewServer(srv.Handler())
		t.Cleanup(ts.Close)
		do := func(method, path, token string, body any) (int, http.Header, []byte) {
			t.Helper()
			var rd io.Reader
			switch b := body.(type) {
			case nil:
			case string:
				rd = strings.NewReader(b)
			default:
				j, _ := json.Marshal(b)
				rd = bytes.NewReader(j)
			}
			req, _ := http.NewRequest(method, ts.URL+path, rd)
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, resp.Header, b
		}
		type errBody struct {
			Error struct {
				Code    string `json:"code"`
				Details struct {
					Field  string `json:"field"`
					Errors []struct {
						Field   string `json:"field"`
						Problem string `json:"problem"`
					} `json:"errors"`
				} `json:"details"`
			} `json:"error"`
		}
		wantErr := func(status int, b []byte, wantStatus int, code string) errBody {
			t.Helper()
			var e errBody
			if err := json.Unmarshal(b, &e); err != nil || status != wantStatus || e.Error.Code != code {
				t.Fatalf("got %d %s, want %d %s", status, b, wantStatus, code)
			}
			return e
		}

		// Dry run: the changes, nothing stored.
		st, _, b := do("POST", "/api/v1/config?dry_run=true", "admin", apiConfig())
		var applied escalation.ApplyJSON
		if err := json.Unmarshal(b, &applied); err != nil || st != 200 || applied.Applied || len(applied.Changes) == 0 {
			t.Fatalf("dry run: %d %s", st, b)
		}
		if st, _, b = do("GET", "/api/v1/config", "admin", nil); st != 200 || strings.TrimSpace(string(b)) != "{}" {
			t.Fatalf("config after dry run: %d %s", st, b)
		}
		// Apply, then read back.
		st, _, b = do("POST", "/api/v1/config", "admin", apiConfig())
		if err := json.Unmarshal(b, &applied); err != nil || st != 200 || !applied.Applied || len(applied.Changes) == 0 {
			t.Fatalf("apply: %d %s", st, b)
		}
		st, _, b = do("GET", "/api/v1/config", "admin", nil)
		var got escalation.Config
		if err := json.Unmarshal(b, &got); err != nil || st != 200 || len(got.Services) != 2 || len(got.Schedules) != 1 {
			t.Fatalf("config: %d %s", st, b)
		}

		// Bad configurations.
		bad := apiConfig()
		bad.Services = append(bad.Services, escalation.ServiceConfig{Name: "x", EscalationPolicy: "nope"})
		bad.Users = append(bad.Users, escalation.User{})
		st, _, b = do("POST", "/api/v1/config", "admin", bad)
		e := wantErr(st, b, 400, "invalid_config")
		if want := escalation.Validate(bad); len(e.Error.Details.Errors) != len(want) || e.Error.Details.Errors[0].Field != want[0].Field {
			t.Fatalf("details %+v, want %+v", e.Error.Details, want)
		}
		st, _, b = do("POST", "/api/v1/config", "admin", `{"services":[{"name":"a","colour":"red"}]}`)
		if e := wantErr(st, b, 400, "invalid_field"); e.Error.Details.Field != "colour" {
			t.Fatalf("unknown field named %q", e.Error.Details.Field)
		}
		st, _, b = do("POST", "/api/v1/config?dry_run=maybe", "admin", apiConfig())
		wantErr(st, b, 400, "invalid_field")
		st, _, b = do("POST", "/api/v1/config", "reader", apiConfig())
		wantErr(st, b, 403, "missing_scope")
		st, _, b = do("GET", "/api/v1/config", "reader", nil)
		wantErr(st, b, 403, "missing_scope")

		// On call now and under the override.
		st, _, b = do("GET", "/api/v1/schedules/primary/oncall?at=2026-03-02T11:30:00Z", "reader", nil)
		var sh escalation.ShiftJSON
		if err := json.Unmarshal(b, &sh); err != nil || st != 200 || sh.User != "bob" || sh.Source != "override swap" ||
			!sh.Start.Equal(t0.Add(2*time.Hour)) || !sh.End.Equal(t0.Add(3*time.Hour)) {
			t.Fatalf("oncall under override: %d %s", st, b)
		}
		h.clock.Add(time.Hour)
		st, _, b = do("GET", "/api/v1/schedules/primary/oncall", "reader", nil)
		if err := json.Unmarshal(b, &sh); err != nil || st != 200 || sh.User != "alice" || sh.Source != "layer 0" {
			t.Fatalf("oncall now: %d %s", st, b)
		}
		st, _, b = do("GET", "/api/v1/schedules/nope/oncall", "reader", nil)
		wantErr(st, b, 404, "not_found")
		st, _, b = do("GET", "/api/v1/schedules/primary/oncall?at=tomorrow", "reader", nil)
		wantErr(st, b, 400, "invalid_field")

		// Shifts.
		st, _, b = do("GET", "/api/v1/schedules/primary/shifts?from=2026-03-02T09:00:00Z&to=2026-03-04T09:00:00Z", "reader", nil)
		var shifts escalation.ShiftsJSON
		if err := json.Unmarshal(b, &shifts); err != nil || st != 200 {
			t.Fatalf("shifts: %d %s", st, b)
		}
		var users []string
		for _, s := range shifts.Shifts {
			users = append(users, s.User)
		}
		if strings.Join(users, ",") != "alice,bob,alice,bob" {
			t.Fatalf("shifts %v", users)
		}
		st, _, b = do("GET", "/api/v1/schedules/primary/shifts?from=2026-01-01T00:00:00Z&to=2027-03-01T00:00:00Z", "reader", nil)
		wantErr(st, b, 400, "invalid_field")
		st, _, b = do("GET", "/api/v1/schedules/primary/shifts?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z", "reader", nil)
		wantErr(st, b, 400, "invalid_field")
		st, _, b = do("GET", "/api/v1/schedules/nope/shifts", "reader", nil)
		wantErr(st, b, 404, "not_found")

		// Calendar feeds.
		st, hdr, b := do("GET", "/api/v1/schedules/primary.ics", "reader", nil)
		if st != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/calendar") ||
			!bytes.HasPrefix(b, []byte("BEGIN:VCALENDAR\r\n")) || !bytes.Contains(b, []byte("SUMMARY:On call: alice\r\n")) {
			t.Fatalf("schedule feed: %d %s %.300s", st, hdr.Get("Content-Type"), b)
		}
		st, _, b = do("GET", "/api/v1/schedules/nope.ics", "reader", nil)
		wantErr(st, b, 404, "not_found")
		st, _, b = do("GET", "/api/v1/schedules/primary", "reader", nil)
		wantErr(st, b, 404, "no_route")
		st, hdr, b = do("GET", "/api/v1/users/bob/oncall.ics", "reader", nil)
		if st != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/calendar") || !bytes.HasSuffix(b, []byte("END:VCALENDAR\r\n")) ||
			!bytes.Contains(b, []byte("SUMMARY:On call: bob\r\n")) || bytes.Contains(b, []byte("On call: alice\r\n")) ||
			bytes.Count(b, []byte("BEGIN:VEVENT")) < 2 {
			t.Fatalf("user feed: %d %s", st, b)
		}
		st, _, b = do("GET", "/api/v1/users/nobody/oncall.ics", "reader", nil)
		wantErr(st, b, 404, "not_found")
		st, _, b = do("GET", "/api/v1/users/bob/oncall.ics", "", nil)
		wantErr(st, b, 401, "unauthorized")
	})
}
