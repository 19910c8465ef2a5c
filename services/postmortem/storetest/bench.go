package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/services/postmortem"
)

// BenchEvents is the size of the benchmark incident's timeline.
const BenchEvents = 10_000

// RawSelect reads an incident's timeline rows with a hand-written SELECT
// of the same columns and order, scanning every column, and returns how
// many rows it read: the baseline of BenchTimeline.
type RawSelect func(ctx context.Context, incidentID string) (int, error)

// LoadBenchIncident writes an incident with n timeline entries of mixed
// types, actors and realistic details.
func LoadBenchIncident(tb testing.TB, s postmortem.Store, n int) string {
	tb.Helper()
	ctx := context.Background()
	const id = "bench-incident"
	types := []string{events.TypeAlertReceived, events.TypePageRequested, events.TypeIncidentNoteAdded, "notification.sent", events.TypeIncidentEscalated}
	actors := []events.Actor{Prometheus, Alice, Bob, events.System("escalation")}
	for start := 0; start < n; start += 1000 {
		err := s.InTx(ctx, func(tx postmortem.Tx) error {
			if start == 0 {
				if _, err := tx.IncidentInsert(ctx, postmortem.Incident{ID: id, Number: 1, Title: "bench", Service: "checkout",
					Severity: "SEV2", Status: "triggered", TriggeredAt: T0}); err != nil {
					return err
				}
			}
			for i := start; i < min(start+1000, n); i++ {
				details, _ := json.Marshal(map[string]any{"incident_id": id, "number": 1, "text": fmt.Sprintf("update %d: p99 latency at %d ms on lb-%d", i, 200+i%700, i%4),
					"service": "checkout", "severity": "critical", "received_at": T0.Add(time.Duration(i) * time.Second)})
				if _, err := tx.EntryAdd(ctx, postmortem.Entry{EventID: fmt.Sprintf("0195f3a2-0000-7000-8000-%012d", i), IncidentID: id,
					At: T0.Add(time.Duration(i) * time.Second), Type: types[i%len(types)], Actor: actors[i%len(actors)],
					Summary: fmt.Sprintf("Alert trigger (critical) from lb-%d via alertmanager: p99 latency above 1 s (%d)", i%4, i), Details: details}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
	return id
}

// BenchTimeline measures what GET /api/v1/incidents/{id}/timeline does for
// an incident with BenchEvents events — read the rows, build the answer,
// encode it as JSON — against raw, a bare SELECT of the same columns, each
// iteration timing both back to back. It reports the p50 and p99 of both
// and their ratio, and the same for ?details=true (each entry with its
// event's data), which raw does not read.
func BenchTimeline(b *testing.B, s postmortem.Store, raw RawSelect) {
	ctx := context.Background()
	id := LoadBenchIncident(b, s, BenchEvents)
	svc, err := postmortem.New(s, nil, postmortem.Config{})
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	var rawD, jsonD, fullD []time.Duration
	size := 0
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		n, err := raw(ctx, id)
		if err != nil || n != BenchEvents {
			b.Fatalf("raw select: %d rows, %v", n, err)
		}
		t1 := time.Now()
		encode := func(details bool) {
			inc, es, err := svc.Timeline(ctx, id, details)
			if err != nil || len(es) != BenchEvents {
				b.Fatalf("timeline: %d entries, %v", len(es), err)
			}
			buf.Reset()
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			if err := enc.Encode(postmortem.TimelineOf(inc, es, time.UTC)); err != nil {
				b.Fatal(err)
			}
		}
		encode(false)
		t2 := time.Now()
		size = buf.Len()
		encode(true)
		t3 := time.Now()
		rawD, jsonD, fullD = append(rawD, t1.Sub(t0)), append(jsonD, t2.Sub(t1)), append(fullD, t3.Sub(t2))
	}
	b.StopTimer()
	p := func(d []time.Duration, q float64) float64 {
		s := slices.Clone(d)
		slices.Sort(s)
		return float64(s[min(len(s)-1, int(q*float64(len(s))))].Microseconds()) / 1000
	}
	b.ReportMetric(p(rawD, 0.5), "raw-p50-ms")
	b.ReportMetric(p(rawD, 0.99), "raw-p99-ms")
	b.ReportMetric(p(jsonD, 0.5), "json-p50-ms")
	b.ReportMetric(p(jsonD, 0.99), "json-p99-ms")
	b.ReportMetric(p(jsonD, 0.5)/p(rawD, 0.5), "p50-x-raw")
	b.ReportMetric(float64(size)/1024, "json-KiB")
	b.ReportMetric(p(fullD, 0.5), "details-p50-ms")
	b.ReportMetric(p(fullD, 0.99), "details-p99-ms")
	b.ReportMetric(float64(buf.Len())/1024, "details-KiB")
}
