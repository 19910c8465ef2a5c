package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/client"
	"github.com/firebreak-dev/firebreak/services/intake"
)

// TestAlertStormCoalesced: 50 000 repeats (1 000 under -race) of 20 dedup keys, accepted
// through POST /api/v1/alerts/batch by a real dev App, open exactly 20
// incidents whose alert counts add up to 50 000. Only changes travel
// FB_EVT: 20 incident.triggered events, then at most one
// incident.alerts_coalesced per incident per coalescing interval, each
// incident's last one carrying its final count. A resolve after the storm
// still resolves, and a trigger after it opens a 21st incident.
func TestAlertStormCoalesced(t *testing.T) {
	t.Parallel()
	const (
		keys     = 20
		total    = stormAlerts
		perBatch = 1000
		interval = time.Second
	)
	cfg := devConfig(t.TempDir())
	cfg.AlertCoalesceInterval = interval
	a := start(t, cfg)
	rec := &recorder{}
	sub, err := a.NATSConn().Subscribe(events.SubjectEvtPrefix+">", func(m *nats.Msg) {
		rec.mu.Lock()
		rec.msgs = append(rec.msgs, m)
		rec.mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	ctx := context.Background()
	admin := client.New(a.HTTPURL(), a.Token(), "cli")
	auth := map[string]string{"Authorization": "Bearer " + a.Token()}

	began := time.Now()
	for sent := 0; sent < total; sent += perBatch {
		var b strings.Builder
		b.WriteString(`{"alerts":[`)
		for i := range perBatch {
			if i > 0 {
				b.WriteByte(',')
			}
			k := (sent + i) % keys
			fmt.Fprintf(&b, `{"service":"storm","dedup_key":"key-%d","summary":"key %d is down","severity":"critical"}`, k, k)
		}
		b.WriteString(`]}`)
		status, body := post(t, a.HTTPURL()+"/api/v1/alerts/batch", auth, []byte(b.String()))
		if status != http.StatusAccepted {
			t.Fatalf("batch at %d: %d %s", sent, status, body)
		}
		var out intake.BatchJSON
		if err := json.Unmarshal(body, &out); err != nil || len(out.Items) != perBatch {
			t.Fatalf("batch answer: %v %d items", err, len(out.Items))
		}
	}
	t.Logf("%d alerts accepted in %s", total, time.Since(began).Round(time.Millisecond))
	if got := storedAlerts(t, a.NATSConn()); got != total {
		t.Fatalf("FB_ALERTS holds %d alerts, want %d", got, total)
	}

	// Every accepted alert is counted once.
	counts := func() (n int, sum int64) {
		l, err := admin.ListIncidents(ctx, client.ListOptions{Service: "storm", Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		for _, inc := range l.Items {
			sum += inc.AlertCount
		}
		return len(l.Items), sum
	}
	poll(t, "every alert counted", 3*time.Minute, func() bool {
		_, sum := counts()
		return sum == total
	})
	if n, sum := counts(); n != keys || sum != total {
		t.Fatalf("%d incidents with %d alerts, want %d with %d", n, sum, keys, total)
	}
	l, err := admin.ListIncidents(ctx, client.ListOptions{Service: "storm", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	final := map[string]int64{}
	for _, inc := range l.Items {
		final[inc.ID] = inc.AlertCount
		if want := int64(total / keys); inc.AlertCount != want || inc.Status != "triggered" {
			t.Errorf("%s: %d alerts, %s; want %d, triggered", inc.Key, inc.AlertCount, inc.Status, want)
		}
	}

	// Each incident's last report carries its final count.
	reports := func() (triggered int, coalesced map[string][]int64) {
		coalesced = map[string][]int64{}
		for _, env := range rec.events() {
			switch env.Type {
			case events.TypeIncidentTriggered:
				triggered++
			case events.TypeIncidentAlertsCoalesced:
				var d events.IncidentAlertsCoalesced
				if err := env.DecodeData(&d); err != nil {
					t.Fatal(err)
				}
				coalesced[d.IncidentID] = append(coalesced[d.IncidentID], d.AlertCount)
			}
		}
		return triggered, coalesced
	}
	poll(t, "final counts reported", time.Minute, func() bool {
		_, c := reports()
		for id, n := range final {
			if r := c[id]; len(r) == 0 || r[len(r)-1] != n {
				return false
			}
		}
		return true
	})
	elapsed := time.Since(began)
	triggered, coalesced := reports()
	if triggered != keys {
		t.Errorf("%d incident.triggered events, want %d", triggered, keys)
	}
	// At most one report per incident per interval (plus one for the
	// interval in progress at either end).
	perIncident := int(elapsed/interval) + 2
	incidentEvents := 0
	for _, env := range rec.events() {
		if strings.HasPrefix(env.Type, "incident.") {
			incidentEvents++
		}
	}
	for id, r := range coalesced {
		if len(r) > perIncident {
			t.Errorf("incident %s reported %d times in %s, more than once per %s", id, len(r), elapsed, interval)
		}
	}
	if bound := keys * (1 + perIncident); incidentEvents > bound {
		t.Errorf("%d incident events on FB_EVT for %d alerts, want at most %d", incidentEvents, total, bound)
	}
	t.Logf("%d alerts → %d incidents, %d incident events in %s", total, keys, incidentEvents, elapsed.Round(time.Millisecond))

	// Changes still travel: a resolve after the storm resolves, a trigger
	// after the resolve opens a new incident.
	if _, err := admin.SendAlert(ctx, intake.Alert{Service: "storm", DedupKey: "key-0", EventAction: "resolve"}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.SendAlert(ctx, intake.Alert{Service: "storm", DedupKey: "key-0", Summary: "again", Severity: "critical"}); err != nil {
		t.Fatal(err)
	}
	poll(t, "retrigger after resolve", time.Minute, func() bool {
		n, _ := counts()
		return n == keys+1
	})
	rec.validate(t)
}

// poll calls f until it reports true, failing the test after limit.
func poll(t *testing.T, what string, limit time.Duration, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// events decodes what the recorder saw on fb.evt.>.
func (rec *recorder) events() []events.Envelope {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var out []events.Envelope
	for _, m := range rec.msgs {
		if !strings.HasPrefix(m.Subject, events.SubjectEvtPrefix) {
			continue
		}
		if e, err := events.Decode(m.Data); err == nil {
			out = append(out, e)
		}
	}
	return out
}
