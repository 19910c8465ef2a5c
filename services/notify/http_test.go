package notify_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/httpapi"
	"github.com/firebreak-dev/firebreak/services/notify"
)

// tokens authenticates "reader" with incidents:read and "writer" with
// config:write only.
type tokens struct{}

func (tokens) Authenticate(_ context.Context, token string) (httpapi.Principal, error) {
	switch token {
	case "reader":
		return httpapi.Principal{ID: "reader", Kind: events.ActorUser, Scopes: []string{httpapi.ScopeIncidentsRead}}, nil
	case "writer":
		return httpapi.Principal{ID: "writer", Kind: events.ActorUser, Scopes: []string{httpapi.ScopeConfigWrite}}, nil
	}
	return httpapi.Principal{}, httpapi.ErrBadToken
}

func TestNotificationsAPI(t *testing.T) {
	t.Parallel()
	each(t, notify.Config{}, nil, func(t *testing.T, h *harness) {
		srv, err := httpapi.New(tokens{}, nil, prometheus.NewRegistry())
		if err != nil {
			t.Fatal(err)
		}
		h.svc.Routes(srv, nil)
		ts := httptest.NewServer(srv.Handler())
		t.Cleanup(ts.Close)
		get := func(path, token string) (int, string) {
			req, _ := http.NewRequest(http.MethodGet, ts.URL+path, nil)
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(b)
		}

		h.hook.answer(http.StatusServiceUnavailable)
		h.deliver(h.page("inc-1/1/alice/hook", "webhook", h.hook.URL+"/hook?token=url-secret"))
		h.deliver(h.page("inc-1/1/alice/sms", "sms", "+4915112345678"))
		h.fireDue()

		for _, ref := range []string{incID, "INC-42", "inc-42", "42"} {
			st, body := get("/api/v1/incidents/"+ref+"/notifications", "reader")
			if st != 200 {
				t.Fatalf("%s: %d %s", ref, st, body)
			}
			var out notify.DeliveriesJSON
			if err := json.Unmarshal([]byte(body), &out); err != nil {
				t.Fatal(err)
			}
			if len(out.Notifications) != 2 {
				t.Fatalf("%s: %s", ref, body)
			}
			byProvider := map[string]notify.DeliveryJSON{}
			for _, d := range out.Notifications {
				byProvider[d.Provider] = d
			}
			if d := byProvider["webhook"]; d.Status != notify.StatusRetrying || d.Attempts != 1 || d.NextAttemptAt == nil ||
				d.Target != "user:alice" || d.ContactMethod != "webhook-1" || !strings.Contains(d.Reason, "503") {
				t.Fatalf("webhook delivery %+v", d)
			}
			if d := byProvider["sms"]; d.Status != notify.StatusFailed || !strings.HasPrefix(d.Reason, "unsupported") {
				t.Fatalf("sms delivery %+v", d)
			}
			if strings.Contains(body, "url-secret") || strings.Contains(body, "+4915112345678") || strings.Contains(body, h.hook.URL) {
				t.Fatalf("the listing shows an address: %s", body)
			}
		}
		if st, body := get("/api/v1/incidents/unknown/notifications", "reader"); st != 200 || !strings.Contains(body, `"notifications":[]`) {
			t.Fatalf("unknown incident: %d %s", st, body)
		}
		if st, body := get("/api/v1/incidents/"+incID+"/notifications", "writer"); st != http.StatusForbidden || !strings.Contains(body, "incidents:read") {
			t.Fatalf("without incidents:read: %d %s", st, body)
		}
		if st, _ := get("/api/v1/incidents/"+incID+"/notifications", "nobody"); st != http.StatusUnauthorized {
			t.Fatalf("bad token: %d", st)
		}
		if st, body := get("/api/v1/incidents/"+strings.Repeat("x", 201)+"/notifications", "reader"); st != 400 || !strings.Contains(body, `"field":"id"`) {
			t.Fatalf("overlong id: %d %s", st, body)
		}
	})
}
