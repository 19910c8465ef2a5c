package notify_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"net/url"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/firebreak-dev/firebreak/internal/httpapi"
	"github.com/firebreak-dev/firebreak/services/notify"
)

type apiClient struct {
	t  *testing.T
	ts *httptest.Server
}

func newAPI(t *testing.T, svc *notify.Service) apiClient {
	srv, err := httpapi.New(tokens{}, nil, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	svc.Routes(srv, nil)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return apiClient{t: t, ts: ts}
}

func (c apiClient) do(method, path, token, body string) (int, string) {
	c.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, c.ts.URL+path, r)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestSubscribersAPI(t *testing.T) {
	t.Parallel()
	each(t, notify.Config{SubscriberSecret: subscriberSecret, PublicURL: "https://fb.example.com"}, nil, func(t *testing.T, h *harness) {
		api := newAPI(t, h.svc)

		bad := []struct {
			name, body, field string
			status            int
		}{
			{"no kind", `{"address":"a@example.com","topics":["status"]}`, "kind", 400},
			{"unknown kind", `{"kind":"sms","address":"+49151","topics":["status"]}`, "kind", 400},
			{"no address", `{"kind":"email","topics":["status"]}`, "address", 400},
			{"not an email", `{"kind":"email","address":"not-an-email","topics":["status"]}`, "address", 400},
			{"display name", `{"kind":"email","address":"Ann <ann@example.com>","topics":["status"]}`, "address", 400},
			{"no dot in domain", `{"kind":"email","address":"ann@example","topics":["status"]}`, "address", 400},
			{"two addresses", `{"kind":"email","address":"a@example.com, b@example.com","topics":["status"]}`, "address", 400},
			{"header injection", `{"kind":"email","address":"a@example.com\r\nBcc: x@example.com","topics":["status"]}`, "address", 400},
			{"overlong email", `{"kind":"email","address":"` + strings.Repeat("a", 250) + `@example.com","topics":["status"]}`, "address", 400},
			{"http webhook", `{"kind":"webhook","address":"http://hooks.example.com/x","topics":["status"]}`, "address", 400},
			{"ftp webhook", `{"kind":"webhook","address":"ftp://hooks.example.com/x","topics":["status"]}`, "address", 400},
			{"relative webhook", `{"kind":"webhook","address":"/hooks/x","topics":["status"]}`, "address", 400},
			{"webhook with credentials", `{"kind":"webhook","address":"https://u:p@hooks.example.com/x","topics":["status"]}`, "address", 400},
			{"webhook with fragment", `{"kind":"webhook","address":"https://hooks.example.com/x#y","topics":["status"]}`, "address", 400},
			{"no topics", `{"kind":"email","address":"a@example.com","topics":[]}`, "topics", 400},
			{"unknown topic", `{"kind":"email","address":"a@example.com","topics":["status","incidents"]}`, "topics", 400},
			{"service with spaces", `{"kind":"email","address":"a@example.com","topics":["status"],"service":" web"}`, "service", 400},
			{"unknown field", `{"kind":"email","address":"a@example.com","topics":["status"],"confirmed":true}`, "confirmed", 400},
			{"topics not a list", `{"kind":"email","address":"a@example.com","topics":"status"}`, "topics", 400},
		}
		for _, tc := range bad {
			st, body := api.do(http.MethodPost, "/api/v1/subscribers", "writer", tc.body)
			if st != tc.status || !strings.Contains(body, `"field":"`+tc.field+`"`) {
				t.Errorf("%s: %d %s; want %d naming %s", tc.name, st, body, tc.status, tc.field)
			}
		}
		if st, body := api.do(http.MethodPost, "/api/v1/subscribers", "writer", ""); st != 400 {
			t.Errorf("empty body: %d %s", st, body)
		}
		if st, _ := api.do(http.MethodPost, "/api/v1/subscribers", "reader", `{"kind":"email","address":"a@example.com","topics":["status"]}`); st != http.StatusForbidden {
			t.Errorf("without config:write: %d", st)
		}
		if st, _ := api.do(http.MethodGet, "/api/v1/subscribers", "reader", ""); st != http.StatusForbidden {
			t.Errorf("list without config:write: %d", st)
		}
		if st, _ := api.do(http.MethodGet, "/api/v1/subscribers", "", ""); st != http.StatusUnauthorized {
			t.Errorf("list without a token: %d", st)
		}

		st, body := api.do(http.MethodPost, "/api/v1/subscribers", "writer",
			`{"kind":"email","address":"ann@example.com","topics":["status","advisories","status"],"service":"checkout"}`)
		if st != http.StatusCreated {
			t.Fatalf("create: %d %s", st, body)
		}
		var created notify.SubscriberJSON
		if err := json.Unmarshal([]byte(body), &created); err != nil {
			t.Fatal(err)
		}
		if created.Kind != "email" || created.Address != "ann@example.com" || strings.Join(created.Topics, ",") != "advisories,status" ||
			created.Service != "checkout" || !strings.HasPrefix(created.UnsubscribeURL, "https://fb.example.com/unsubscribe?token=") {
			t.Fatalf("created %+v", created)
		}
		if st, body := api.do(http.MethodPost, "/api/v1/subscribers", "writer",
			`{"kind":"email","address":"ann@example.com","topics":["status"],"service":"checkout"}`); st != http.StatusConflict || !strings.Contains(body, "subscriber_exists") {
			t.Fatalf("duplicate: %d %s", st, body)
		}
		if st, body := api.do(http.MethodPost, "/api/v1/subscribers", "writer",
			`{"kind":"webhook","address":"`+h.hook.URL+`/status","topics":["status"]}`); st != http.StatusCreated {
			t.Fatalf("loopback http webhook: %d %s", st, body)
		}

		st, body = api.do(http.MethodGet, "/api/v1/subscribers", "writer", "")
		var list notify.SubscribersJSON
		if st != 200 || json.Unmarshal([]byte(body), &list) != nil || len(list.Subscribers) != 2 {
			t.Fatalf("list: %d %s", st, body)
		}
		if strings.Contains(body, "token") {
			t.Fatalf("the list shows a token or its hash: %s", body)
		}

		// The public unsubscribe page.
		u, _ := url.Parse(created.UnsubscribeURL)
		token := u.Query().Get("token")
		for _, tc := range []struct {
			method, query string
			status        int
			want          string
		}{
			{http.MethodGet, "", 400, `"field":"token"`},
			{http.MethodGet, "?token=short", 400, `"field":"token"`},
			{http.MethodPost, "?token=" + strings.Repeat("!", 43), 400, `"field":"token"`},
			{http.MethodGet, "?token=" + strings.Repeat("A", 43), 404, "unknown_token"},
			{http.MethodPost, "?token=" + strings.Repeat("A", 43), 404, "unknown_token"},
			// GET only asks (mail scanners follow links) ...
			{http.MethodGet, "?token=" + token, 200, `<form method="post"`},
			{http.MethodGet, "?token=" + token, 200, `<button type="submit">Unsubscribe</button>`},
			// ... POST unsubscribes, once.
			{http.MethodPost, "?token=" + token, 200, "You are unsubscribed."},
			{http.MethodPost, "?token=" + token, 404, "unknown_token"},
		} {
			st, body := api.do(tc.method, "/unsubscribe"+tc.query, "", "")
			if st != tc.status || !strings.Contains(body, tc.want) {
				t.Errorf("%s /unsubscribe%s: %d %s; want %d with %q", tc.method, tc.query, st, body, tc.status, tc.want)
			}
		}
		st, body = api.do(http.MethodGet, "/api/v1/subscribers", "writer", "")
		if st != 200 || strings.Contains(body, "ann@example.com") {
			t.Fatalf("ann is still subscribed: %s", body)
		}

		// DELETE by id.
		_ = json.Unmarshal([]byte(body), &list)
		id := list.Subscribers[0].ID
		if st, _ := api.do(http.MethodDelete, "/api/v1/subscribers/"+id, "reader", ""); st != http.StatusForbidden {
			t.Errorf("delete without config:write: %d", st)
		}
		if st, body := api.do(http.MethodDelete, "/api/v1/subscribers/"+id, "writer", ""); st != http.StatusNoContent {
			t.Fatalf("delete: %d %s", st, body)
		}
		if st, body := api.do(http.MethodDelete, "/api/v1/subscribers/"+id, "writer", ""); st != http.StatusNotFound {
			t.Fatalf("delete again: %d %s", st, body)
		}
		if st, body := api.do(http.MethodDelete, "/api/v1/subscribers/"+strings.Repeat("x", 201), "writer", ""); st != 400 || !strings.Contains(body, `"field":"id"`) {
			t.Fatalf("overlong id: %d %s", st, body)
		}
	})
}

func TestSubscribeWithoutSecretIsRefused(t *testing.T) {
	t.Parallel()
	each(t, notify.Config{}, nil, func(t *testing.T, h *harness) {
		api := newAPI(t, h.svc)
		st, body := api.do(http.MethodPost, "/api/v1/subscribers", "writer", `{"kind":"email","address":"a@example.com","topics":["status"]}`)
		if st != http.StatusServiceUnavailable || !strings.Contains(body, "FIREBREAK_NOTIFY_SUBSCRIBER_SECRET") {
			t.Fatalf("%d %s", st, body)
		}
		// Bad input is still named first.
		if st, body := api.do(http.MethodPost, "/api/v1/subscribers", "writer", `{"kind":"email","address":"a","topics":["status"]}`); st != 400 || !strings.Contains(body, `"field":"address"`) {
			t.Fatalf("%d %s", st, body)
		}
	})
}

// FuzzSubscriberAddress: what Validate accepts as an email address is one
// bare address with no line breaks (it becomes a To header); as a webhook
// URL, an absolute https (or loopback http) URL without credentials.
func FuzzSubscriberAddress(f *testing.F) {
	for _, s := range []string{"ops@example.com", "Ann <ann@example.com>", "a@b", "a@example.com\r\nBcc: x@example.com",
		"https://hooks.example.com/x", "http://127.0.0.1:8080/x", "https://u:p@h.example.com/", "javascript:alert(1)", "https://[::1]/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, addr string) {
		email := notify.SubscriberInput{Kind: notify.SubscriberEmail, Address: addr, Topics: []string{notify.TopicStatus}}
		if email.Validate() == nil {
			a, err := mail.ParseAddress(addr)
			if err != nil || a.Address != addr || strings.ContainsAny(addr, "\r\n<>") {
				t.Fatalf("accepted email address %q", addr)
			}
		}
		hook := notify.SubscriberInput{Kind: notify.SubscriberWebhook, Address: addr, Topics: []string{notify.TopicStatus}}
		if hook.Validate() == nil {
			u, err := url.Parse(addr)
			if err != nil || u.User != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
				t.Fatalf("accepted webhook URL %q", addr)
			}
		}
	})
}
