package app_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	slackapi "github.com/slack-go/slack"

	"github.com/firebreak-dev/firebreak/events"

	"github.com/firebreak-dev/firebreak/internal/slackfake"
	"github.com/firebreak-dev/firebreak/services/intake"
	"github.com/firebreak-dev/firebreak/services/slack"
)

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// slackBaseline measures n concurrent bare round trips to the fake Slack
// with the real client (auth.test): what any Slack call costs here.
func slackBaseline(b *testing.B, fake *slackfake.Server, n int) []time.Duration {
	api := slackapi.New(fake.Token, slackapi.OptionAPIURL(fake.APIURL))
	var (
		mu  sync.Mutex
		out []time.Duration
		wg  sync.WaitGroup
	)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t0 := time.Now()
			if _, err := api.AuthTestContext(context.Background()); err != nil {
				b.Error(err)
				return
			}
			mu.Lock()
			out = append(out, time.Since(t0))
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

// messageOf returns the incident messages (not thread posts) in the
// channel by their text.
func incidentMessages(fake *slackfake.Server, channel string) []slackfake.Message {
	var out []slackfake.Message
	for _, m := range fake.Messages(channel) {
		if m.ThreadTS == "" && !m.Ephemeral {
			out = append(out, m)
		}
	}
	return out
}

// BenchmarkSlackClickToUpdate measures, in dev mode, the latency from a
// signed Acknowledge click (POST /slack/interactions) to the fake Slack
// receiving the chat.update that shows the incident acknowledged, with 100
// incidents acknowledged concurrently. Each iteration opens 100 incidents
// (not timed) and clicks all 100 at once. Baseline: 100 concurrent bare
// round trips to the fake (auth.test) in the same run.
func BenchmarkSlackClickToUpdate(b *testing.B) {
	const n = 100
	h := startSlack(b, true)
	ctx := context.Background()
	var lat, answerLat, cmdLat, evtLat []time.Duration
	// Where the time goes: when the command and the event are on the bus.
	var (
		stageMu sync.Mutex
		stage   = map[string]time.Time{}
	)
	for _, subj := range []string{"fb.cmd.incident.acknowledge", "fb.evt.incident.acknowledged"} {
		sub, err := h.NATSConn().Subscribe(subj, func(m *nats.Msg) {
			now := time.Now()
			e, err := events.Decode(m.Data)
			if err != nil {
				return
			}
			id := e.Subject
			if e.Type == events.TypeIncidentAcknowledged {
				var d events.IncidentTransitioned
				if e.DecodeData(&d) != nil {
					return
				}
				id = d.IncidentID
			}
			stageMu.Lock()
			stage[m.Subject+"/"+id] = now
			stageMu.Unlock()
		})
		if err != nil {
			b.Fatal(err)
		}
		defer sub.Unsubscribe()
	}
	for round := range b.N {
		b.StopTimer()
		before := len(incidentMessages(h.fake, h.channel))
		for i := range n {
			key := "click-" + strconv.Itoa(round) + "-" + strconv.Itoa(i)
			if _, err := h.c.SendAlert(ctx, intake.Alert{Service: "bench", DedupKey: key, Summary: key, Severity: "warning"}); err != nil {
				b.Fatal(err)
			}
		}
		deadline := time.Now().Add(60 * time.Second)
		for len(incidentMessages(h.fake, h.channel)) < before+n && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		msgs := incidentMessages(h.fake, h.channel)[before:]
		if len(msgs) != n {
			b.Fatalf("%d incident messages, want %d", len(msgs), n)
		}
		type click struct {
			ts, id string
			body   []byte
		}
		clicks := make([]click, 0, n)
		for _, m := range msgs {
			key, _, _ := strings.Cut(m.Text, " ")
			inc, err := h.c.GetIncident(ctx, key)
			if err != nil {
				b.Fatal(err)
			}
			clicks = append(clicks, click{ts: m.TS, id: inc.ID, body: clickBody(b, h.alice, h.channel, m.TS, slack.ActionAcknowledge, inc.ID)})
		}
		sent := make(map[string]time.Time, n)
		var (
			mu sync.Mutex
			wg sync.WaitGroup
		)
		b.StartTimer()
		for _, c := range clicks {
			wg.Add(1)
			go func() {
				defer wg.Done()
				hdr := slack.SignedHeader([]byte(testSigningSecret), time.Now(), c.body)
				mu.Lock()
				sent[c.ts] = time.Now()
				mu.Unlock()
				t0 := time.Now()
				if status, body := postSigned(b, h.HTTPURL(), "/slack/interactions", c.body, hdr); status != http.StatusOK {
					b.Errorf("click: %d %s", status, body)
				}
				mu.Lock()
				answerLat = append(answerLat, time.Since(t0))
				mu.Unlock()
			}()
		}
		wg.Wait()
		got := map[string]time.Duration{}
		deadline = time.Now().Add(60 * time.Second)
		for len(got) < n && time.Now().Before(deadline) {
			for _, call := range h.fake.Calls("chat.update") {
				ts := call.Params.Get("ts")
				t0, ok := sent[ts]
				if _, done := got[ts]; ok && !done && strings.Contains(call.Params.Get("text"), "(acknowledged)") {
					got[ts] = call.At.Sub(t0)
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
		b.StopTimer()
		if len(got) < n {
			b.Fatalf("only %d of %d messages updated", len(got), n)
		}
		for _, d := range got {
			lat = append(lat, d)
		}
		stageMu.Lock()
		for _, c := range clicks {
			if t, ok := stage["fb.cmd.incident.acknowledge/"+c.id]; ok {
				cmdLat = append(cmdLat, t.Sub(sent[c.ts]))
			}
			if t, ok := stage["fb.evt.incident.acknowledged/"+c.id]; ok {
				evtLat = append(evtLat, t.Sub(sent[c.ts]))
			}
		}
		stageMu.Unlock()
	}
	base := slackBaseline(b, h.fake, n)
	b.ReportMetric(ms(pct(lat, 50)), "p50-ms")
	b.ReportMetric(ms(pct(lat, 99)), "p99-ms")
	b.ReportMetric(ms(pct(answerLat, 50)), "answer-p50-ms")
	b.ReportMetric(ms(pct(answerLat, 99)), "answer-p99-ms")
	b.ReportMetric(ms(pct(cmdLat, 50)), "command-p50-ms")
	b.ReportMetric(ms(pct(cmdLat, 99)), "command-p99-ms")
	b.ReportMetric(ms(pct(evtLat, 50)), "event-p50-ms")
	b.ReportMetric(ms(pct(evtLat, 99)), "event-p99-ms")
	b.ReportMetric(ms(pct(base, 50)), "baseline-p50-ms")
	b.ReportMetric(ms(pct(base, 99)), "baseline-p99-ms")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkSlackAlertToMessage measures, in dev mode, the latency from
// posting an alert to the fake Slack receiving its incident message
// (chat.postMessage), at a fixed 200 alerts/s with distinct dedup keys.
// b.N is the number of alerts (-benchtime 1000x). Baselines in the same
// run: the alert's HTTP accept latency (202 = durable in JetStream) and a
// bare round trip to the fake.
func BenchmarkSlackAlertToMessage(b *testing.B) {
	const rate = 200
	h := startSlack(b, true)
	ctx := context.Background()
	var (
		mu     sync.Mutex
		sent   = map[string]time.Time{}
		accept []time.Duration
		wg     sync.WaitGroup
	)
	tick := time.NewTicker(time.Second / rate)
	defer tick.Stop()
	b.ResetTimer()
	for i := range b.N {
		<-tick.C
		key := "msg-" + strconv.Itoa(i)
		wg.Add(1)
		go func() {
			defer wg.Done()
			t0 := time.Now()
			mu.Lock()
			sent[key] = t0
			mu.Unlock()
			if _, err := h.c.SendAlert(ctx, intake.Alert{Service: "bench", DedupKey: key, Summary: key, Severity: "warning"}); err != nil {
				b.Error(err)
				return
			}
			mu.Lock()
			accept = append(accept, time.Since(t0))
			mu.Unlock()
		}()
	}
	wg.Wait()
	got := map[string]time.Duration{}
	deadline := time.Now().Add(120 * time.Second)
	for len(got) < b.N && time.Now().Before(deadline) {
		for _, call := range h.fake.Calls("chat.postMessage") {
			if call.Params.Get("thread_ts") != "" {
				continue
			}
			// Text: "INC-n [SEV] <title> (<status>)"; the title is the key.
			text := call.Params.Get("text")
			_, rest, _ := strings.Cut(text, "] ")
			key, _, _ := strings.Cut(rest, " (")
			if t0, ok := sent[key]; ok {
				if _, done := got[key]; !done {
					got[key] = call.At.Sub(t0)
				}
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.StopTimer()
	if len(got) < b.N {
		b.Fatalf("only %d of %d incident messages posted", len(got), b.N)
	}
	lat := make([]time.Duration, 0, len(got))
	for _, d := range got {
		lat = append(lat, d)
	}
	base := slackBaseline(b, h.fake, 100)
	b.ReportMetric(ms(pct(lat, 50)), "p50-ms")
	b.ReportMetric(ms(pct(lat, 99)), "p99-ms")
	b.ReportMetric(ms(pct(accept, 50)), "accept-p50-ms")
	b.ReportMetric(ms(pct(accept, 99)), "accept-p99-ms")
	b.ReportMetric(ms(pct(base, 50)), "baseline-p50-ms")
	b.ReportMetric(ms(pct(base, 99)), "baseline-p99-ms")
	b.ReportMetric(0, "ns/op")
}
