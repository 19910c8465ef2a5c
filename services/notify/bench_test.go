package notify_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/db/dbtest"
	"github.com/firebreak-dev/firebreak/services/notify"
	"github.com/firebreak-dev/firebreak/services/notify/store/sqlite"
)

// The benchmarks compare, in one run, against one local receiver:
//
//   - BenchmarkBarePOST: the baseline, an http.Client posting a prebuilt
//     JSON body of the same size in a loop;
//   - BenchmarkWebhookProvider: the webhook provider's Send (encode the
//     payload, sign it, post it, classify the answer);
//   - BenchmarkDeliveryPipeline: the whole durable path of one page on
//     SQLite: HandlePage (inbox, delivery row, timer), claim the timer,
//     HandleTimer (mark sending + watchdog, Send, record sent +
//     notification.sent in the outbox).
//
// docs/benchmarks.md ("Notify") gives the numbers as ratios to the baseline.

func receiver(b *testing.B) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	b.Cleanup(srv.Close)
	return srv
}

func deliveriesPerSecond(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deliveries/s")
}

func BenchmarkBarePOST(b *testing.B) {
	srv := receiver(b)
	body := bytes.Repeat([]byte("x"), benchBodySize(b, srv.URL))
	client := &http.Client{Timeout: 30 * time.Second}
	b.ResetTimer()
	for b.Loop() {
		resp, err := client.Post(srv.URL, "application/json", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	deliveriesPerSecond(b)
}

// benchBodySize is the size of the webhook provider's body for the
// benchmark page, so the baseline posts as many bytes.
func benchBodySize(b *testing.B, url string) int {
	var n int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		n = len(body)
	}))
	defer srv.Close()
	if err := notify.NewWebhook(nil, "s", nil, nil).Send(context.Background(), benchMessage(srv.URL, 0)); err != nil {
		b.Fatal(err)
	}
	return n
}

func benchMessage(url string, i int) notify.Message {
	m := hookMessage(url)
	m.Key = fmt.Sprintf("inc-1/1/alice/hook-%d|webhook", i)
	return m
}

func BenchmarkWebhookProvider(b *testing.B) {
	srv := receiver(b)
	wh := notify.NewWebhook(nil, "whsec-bench", nil, nil)
	ctx := context.Background()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		i++
		if err := wh.Send(ctx, benchMessage(srv.URL, i)); err != nil {
			b.Fatal(err)
		}
	}
	deliveriesPerSecond(b)
}

func BenchmarkDeliveryPipeline(b *testing.B) {
	srv := receiver(b)
	store := sqlite.New(dbtest.SQLite(b, "outbox", "timer", "notify"), time.Now)
	svc, err := notify.New(store, []notify.Provider{notify.NewWebhook(nil, "whsec-bench", nil, nil)}, nil, notify.Config{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	src := store.Timers()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		i++
		p := benchMessage(srv.URL, i).Page
		p.IdempotencyKey = fmt.Sprintf("inc-1/1/alice/hook-%d", i)
		env := events.MustNew(events.TypePageRequested, "escalation", "inc-1", events.System("escalation"), p)
		if err := svc.HandlePage(ctx, env); err != nil {
			b.Fatal(err)
		}
		ts, err := src.ClaimDue(ctx, time.Now(), 1, "bench", time.Minute)
		if err != nil || len(ts) != 1 {
			b.Fatalf("claim: %v %v", ts, err)
		}
		if err := svc.HandleTimer(ctx, ts[0]); err != nil {
			b.Fatal(err)
		}
	}
	deliveriesPerSecond(b)
}
