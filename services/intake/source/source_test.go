package source

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PagerDuty/go-pagerduty"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/fault"
	"github.com/firebreak-dev/firebreak/internal/httpapi"
	"github.com/firebreak-dev/firebreak/internal/integration"
	"github.com/firebreak-dev/firebreak/services/intake"
)

// fakeKeys resolves a fixed set of keys.
type fakeKeys map[string]integration.Integration

func (f fakeKeys) Lookup(_ context.Context, key string) (integration.Integration, error) {
	if in, ok := f[key]; ok {
		return in, nil
	}
	return integration.Integration{}, integration.ErrUnknownKey
}

func (f fakeKeys) Signed(context.Context, string) (integration.Integration, []byte, error) {
	return integration.Integration{}, nil, integration.ErrUnknownKey
}

// memPub records what is published; failing makes it refuse.
type memPub struct {
	mu      sync.Mutex
	envs    []events.Envelope
	failing bool
}

func (p *memPub) PublishEnvelope(_ context.Context, env events.Envelope) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.failing {
		return errors.New("bus down")
	}
	p.envs = append(p.envs, env)
	return nil
}

func (p *memPub) PublishEnvelopes(ctx context.Context, envs []events.Envelope) error {
	for _, env := range envs {
		if err := p.PublishEnvelope(ctx, env); err != nil {
			return err
		}
	}
	return nil
}

const testKey = "abcdefghijklmnopqrstuvwxyz012345"

func testServer(t *testing.T, cfg Config, now func() time.Time) (*httptest.Server, *memPub) {
	t.Helper()
	pub := &memPub{}
	svc, err := intake.New(pub, slog.New(slog.DiscardHandler), intake.Config{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := httpapi.New(httpapi.NewAdminToken("root"), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	keys := fakeKeys{testKey: {ID: "0123456789abcdef", Service: "checkout", Type: integration.TypeEventsV2, Name: "datadog"}}
	New(svc, keys, nil, cfg).Routes(srv)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return hs, pub
}

// TestRateLimit: a routing key over its burst gets 429 with Retry-After,
// through the real go-pagerduty client, and is served again once its
// bucket refills; other keys are not affected.
func TestRateLimit(t *testing.T) {
	t.Parallel()
	var (
		mu  sync.Mutex
		now = time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
	)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	hs, pub := testServer(t, Config{RateLimit: 1, RateBurst: 3}, clock)
	pd := pagerduty.NewClient("", pagerduty.WithV2EventsAPIEndpoint(hs.URL))
	ev := &pagerduty.V2Event{RoutingKey: testKey, Action: "trigger", DedupKey: "k",
		Payload: &pagerduty.V2Payload{Summary: "s", Source: "h", Severity: "info"}}
	for i := range 3 {
		if _, err := pd.ManageEventWithContext(context.Background(), ev); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
	}
	_, err := pd.ManageEventWithContext(context.Background(), ev)
	var ae pagerduty.APIError
	if !errors.As(err, &ae) || ae.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("fourth event: %v", err)
	}
	resp, err := http.Post(hs.URL+"/v2/enqueue", "application/json", strings.NewReader(`{"routing_key":"`+testKey+`","event_action":"acknowledge","dedup_key":"k"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "1" {
		t.Fatalf("429 answer: %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	mu.Lock()
	now = now.Add(1100 * time.Millisecond)
	mu.Unlock()
	if _, err := pd.ManageEventWithContext(context.Background(), ev); err != nil {
		t.Fatalf("after refill: %v", err)
	}
	pub.mu.Lock()
	n := len(pub.envs)
	pub.mu.Unlock()
	if n != 4 {
		t.Fatalf("published %d, want 4", n)
	}
}

// TestNotDurable: an event the bus did not store is a 5xx, which PagerDuty
// clients retry.
func TestNotDurable(t *testing.T) {
	t.Parallel()
	hs, pub := testServer(t, Config{}, nil)
	pub.failing = true
	resp, err := http.Post(hs.URL+"/v2/enqueue", "application/json", strings.NewReader(
		`{"routing_key":"`+testKey+`","event_action":"trigger","payload":{"summary":"s","source":"h","severity":"info"}}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

func TestLimiter(t *testing.T) {
	t.Parallel()
	l := newLimiter(2, 2)
	t0 := time.Unix(0, 0)
	for i := range 2 {
		if ok, _ := l.allow("a", t0); !ok {
			t.Fatalf("event %d refused", i)
		}
	}
	ok, wait := l.allow("a", t0)
	if ok || wait <= 0 || wait > 500*time.Millisecond || retryAfter(wait) != 1 {
		t.Fatalf("third: %v %v", ok, wait)
	}
	if ok, _ := l.allow("b", t0); !ok {
		t.Fatal("another key is limited")
	}
	if ok, _ := l.allow("a", t0.Add(500*time.Millisecond)); !ok {
		t.Fatal("not refilled")
	}
}

func TestReadAlerts(t *testing.T) {
	t.Parallel()
	ce := http.Header{"Content-Type": {"application/cloudevents+json"}}
	for _, tc := range []struct {
		name    string
		header  http.Header
		body    string
		service string
		field   string
		n       int
	}{
		{"generic fills service", http.Header{}, `{"summary":"s","severity":"info"}`, "db", "", 1},
		{"generic same service", http.Header{}, `{"service":"db","summary":"s","severity":"info"}`, "db", "", 1},
		{"generic other service", http.Header{}, `{"service":"web","summary":"s","severity":"info"}`, "db", "service", 0},
		{"generic invalid", http.Header{}, `{"summary":"s","severity":"loud"}`, "db", "severity", 0},
		{"cloudevent by media type", ce, `{"specversion":"1.0","id":"1","source":"/s","type":"t","data":{"summary":"s","severity":"info"}}`, "db", "", 1},
		{"cloudevent without media type", http.Header{}, `{"specversion":"1.0","id":"1","source":"/s","type":"t","data":{"summary":"s","severity":"info"}}`, "db", "", 1},
		{"cloudevent other service", ce, `{"specversion":"1.0","id":"1","source":"/s","type":"t","data":{"service":"web","summary":"s","severity":"info"}}`, "db", "service", 0},
		{"cloudevent without data", ce, `{"specversion":"1.0","id":"1","source":"/s","type":"t"}`, "db", "data", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d, err := readAlerts(tc.service, tc.header, []byte(tc.body))
			if tc.field != "" {
				if fault.KindOf(err) != fault.Invalid || fault.DetailsOf(err)["field"] != tc.field {
					t.Fatalf("want an error on %s, got %v", tc.field, err)
				}
				return
			}
			if err != nil || len(d.Alerts) != tc.n || len(d.IDs) != tc.n || d.Alerts[0].Service != tc.service {
				t.Fatalf("got %+v, %v", d, err)
			}
		})
	}
}

// FuzzReadAlerts: no input panics, and whatever is accepted belongs to the
// integration's service.
func FuzzReadAlerts(f *testing.F) {
	f.Add([]byte(`{"summary":"s","severity":"info"}`), "")
	f.Add([]byte(`{"specversion":"1.0","id":"1","source":"/s","type":"t","data":{"summary":"s","severity":"info"}}`), "application/cloudevents+json")
	f.Add([]byte(`[{"specversion":"1.0","id":"1","source":"/s","type":"t","data":{"summary":"s","severity":"info"}}]`), "application/cloudevents-batch+json")
	f.Add([]byte(`{"service":null}`), "")
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		h := http.Header{}
		if contentType != "" {
			h.Set("Content-Type", contentType)
		}
		d, err := readAlerts("db", h, body)
		if err != nil {
			return
		}
		if len(d.Alerts) == 0 || len(d.Alerts) != len(d.IDs) {
			t.Fatalf("accepted %d alerts with %d ids", len(d.Alerts), len(d.IDs))
		}
		for _, a := range d.Alerts {
			if a.Service != "db" {
				t.Fatalf("accepted an alert for %q", a.Service)
			}
		}
	})
}
