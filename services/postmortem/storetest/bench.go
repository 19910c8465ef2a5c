package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"runtime"
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
// an incident with BenchEvents events against raw, a bare SELECT of the
// same columns. Two sub-benchmarks each time, one after another on the
// same rows in every iteration, the baseline and the ways of answering:
//
//   - assembled: raw; json, the default answer as the handler builds it
//     from each entry's stored JSON (Service.TimelineJSON) and writes it
//     out; json-tz, the same in Europe/Berlin (each entry's time moved);
//   - decoded: raw; decoded, the way the JSON answer was built before
//     (and Markdown and CSV still are): read and map every column,
//     encode the entries; details, ?details=true, the same with each
//     event's data.
//
// They are apart so that the garbage of the decoded answers does not
// land in the assembled ones' times. Each reports p50 and p99 of every
// phase, its allocations per answer, its size, and the ratios of the
// first answer to raw.
func BenchTimeline(b *testing.B, s postmortem.Store, raw RawSelect) {
	ctx := context.Background()
	id := LoadBenchIncident(b, s, BenchEvents)
	svc, err := postmortem.New(s, nil, postmortem.Config{})
	if err != nil {
		b.Fatal(err)
	}
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	assembled := func(loc *time.Location) func() {
		return func() {
			a, err := svc.TimelineJSON(ctx, id, loc)
			if err != nil || a.Entries != BenchEvents {
				b.Fatalf("timeline JSON: %v", err)
			}
			buf.Reset()
			if _, err := a.WriteTo(&buf); err != nil {
				b.Fatal(err)
			}
			a.Close()
		}
	}
	decoded := func(details bool) func() {
		return func() {
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
	}
	rawPhase := func() {
		buf.Reset()
		if n, err := raw(ctx, id); err != nil || n != BenchEvents {
			b.Fatalf("raw select: %d rows, %v", n, err)
		}
	}
	b.Run("assembled", func(b *testing.B) {
		benchPhases(b, &buf, []*phase{{name: "raw", run: rawPhase}, {name: "json", run: assembled(time.UTC)}, {name: "json-tz", run: assembled(berlin)}})
	})
	b.Run("decoded", func(b *testing.B) {
		benchPhases(b, &buf, []*phase{{name: "raw", run: rawPhase}, {name: "decoded", run: decoded(false)}, {name: "details", run: decoded(true)}})
	})
}

// phase is one timed step of a BenchTimeline iteration.
type phase struct {
	name   string
	run    func()
	d      []time.Duration
	allocs uint64
	size   int
}

func benchPhases(b *testing.B, buf *bytes.Buffer, phases []*phase) {
	var ms runtime.MemStats
	b.ResetTimer()
	for b.Loop() {
		for _, p := range phases {
			runtime.ReadMemStats(&ms)
			before := ms.Mallocs
			t0 := time.Now()
			p.run()
			p.d = append(p.d, time.Since(t0))
			runtime.ReadMemStats(&ms)
			p.allocs += ms.Mallocs - before
			p.size = buf.Len()
		}
	}
	b.StopTimer()
	q := func(d []time.Duration, q float64) float64 {
		s := slices.Clone(d)
		slices.Sort(s)
		return float64(s[min(len(s)-1, int(q*float64(len(s))))].Microseconds()) / 1000
	}
	for _, p := range phases {
		b.ReportMetric(q(p.d, 0.5), p.name+"-p50-ms")
		b.ReportMetric(q(p.d, 0.99), p.name+"-p99-ms")
		b.ReportMetric(float64(p.allocs)/float64(len(p.d)), p.name+"-allocs")
		if p.size > 0 {
			b.ReportMetric(float64(p.size)/1024, p.name+"-KiB")
		}
	}
	b.ReportMetric(q(phases[1].d, 0.5)/q(phases[0].d, 0.5), phases[1].name+"-p50-x-raw")
	b.ReportMetric(q(phases[1].d, 0.99)/q(phases[0].d, 0.99), phases[1].name+"-p99-x-raw")
}
