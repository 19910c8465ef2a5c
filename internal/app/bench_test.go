package app_test

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/client"
	"github.com/firebreak-dev/firebreak/services/intake"
)

// BenchmarkAlertToIncident measures, in dev mode (embedded JetStream file
// storage, SQLite), the latency from posting an alert to the incident.triggered
// event being published, at a fixed rate of 200 alerts/s with distinct dedup
// keys. b.N is the number of alerts (run with -benchtime 2000x). The HTTP
// accept latency (202 = durable in JetStream) of the same requests is the
// baseline reported beside it.
func BenchmarkAlertToIncident(b *testing.B) {
	const rate = 200
	a := start(b, devConfig(b.TempDir()))
	defer a.stop()
	c := client.New(a.HTTPURL(), a.Token(), "")

	var mu sync.Mutex
	sent := map[string]time.Time{}
	seen := map[string]time.Duration{}
	sub, err := a.NATSConn().Subscribe(events.SubjectFor(events.TypeIncidentTriggered), func(m *nats.Msg) {
		now := time.Now()
		e, err := events.Decode(m.Data)
		if err != nil {
			return
		}
		var d events.IncidentTriggered
		if json.Unmarshal(e.Data, &d) != nil {
			return
		}
		mu.Lock()
		if t0, ok := sent[d.DedupKey]; ok {
			seen[d.DedupKey] = now.Sub(t0)
		}
		mu.Unlock()
	})
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Unsubscribe()

	ctx := context.Background()
	var accept []time.Duration
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Second / rate)
	defer tick.Stop()
	b.ResetTimer()
	for i := range b.N {
		<-tick.C
		key := "bench-" + strconv.Itoa(i)
		wg.Add(1)
		go func() {
			defer wg.Done()
			t0 := time.Now()
			mu.Lock()
			sent[key] = t0
			mu.Unlock()
			if _, err := c.SendAlert(ctx, intake.Alert{Service: "bench", DedupKey: key, Summary: "bench alert", Severity: "warning"}); err != nil {
				b.Error(err)
				return
			}
			mu.Lock()
			accept = append(accept, time.Since(t0))
			mu.Unlock()
		}()
	}
	wg.Wait()
	deadline := time.Now().Add(60 * time.Second)
	for {
		mu.Lock()
		n := len(seen)
		mu.Unlock()
		if n >= b.N || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.StopTimer()
	mu.Lock()
	defer mu.Unlock()
	if len(seen) < b.N {
		b.Fatalf("only %d of %d incidents opened", len(seen), b.N)
	}
	lat := make([]time.Duration, 0, len(seen))
	for _, d := range seen {
		lat = append(lat, d)
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(pct(lat, 50)), "p50-ms")
	b.ReportMetric(ms(pct(lat, 99)), "p99-ms")
	b.ReportMetric(ms(pct(accept, 50)), "accept-p50-ms")
	b.ReportMetric(ms(pct(accept, 99)), "accept-p99-ms")
	b.ReportMetric(0, "ns/op")
}

func pct(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	if i > 0 {
		i--
	}
	return s[i]
}
