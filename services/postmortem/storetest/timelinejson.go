package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/services/postmortem"
)

// zones the JSON timeline is compared in: UTC (each entry's stored JSON
// as is), east and west of it (each entry's time moved).
func zones(t testing.TB) []*time.Location {
	t.Helper()
	var out []*time.Location
	for _, name := range []string{"UTC", "Europe/Berlin", "America/St_Johns"} {
		loc, err := time.LoadLocation(name)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, loc)
	}
	return out
}

// CheckTimelineJSON fails the test unless svc's assembled JSON timeline
// of ref is byte for byte what encoding the timeline's entries gives, in
// every zone of zones.
func CheckTimelineJSON(t testing.TB, svc *postmortem.Service, ref string) {
	t.Helper()
	ctx := context.Background()
	for _, loc := range zones(t) {
		inc, es, err := svc.Timeline(ctx, ref, false)
		if err != nil {
			t.Fatal(err)
		}
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(postmortem.TimelineOf(inc, es, loc)); err != nil {
			t.Fatal(err)
		}
		a, err := svc.TimelineJSON(ctx, ref, loc)
		if err != nil {
			t.Fatalf("timeline JSON of %s in %s: %v", ref, loc, err)
		}
		var got bytes.Buffer
		if n, err := a.WriteTo(&got); err != nil || int(n) != a.Len() || a.Entries != len(es) {
			t.Fatalf("write: %d bytes of %d, %d entries of %d, %v", n, a.Len(), a.Entries, len(es), err)
		}
		a.Close()
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Fatalf("timeline JSON of %s in %s\n got %s\nwant %s", ref, loc, got.Bytes(), want.Bytes())
		}
		if !json.Valid(got.Bytes()) {
			t.Fatalf("invalid JSON %s", got.Bytes())
		}
	}
}

// testTimelineJSON: entries with text JSON escapes and would-be keys in
// every string, times with and without fractions, and an alert attached
// later, read back as the default answer lists them.
func testTimelineJSON(t *testing.T, s postmortem.Store) {
	ctx := context.Background()
	svc, err := postmortem.New(s, nil, postmortem.Config{})
	if err != nil {
		t.Fatal(err)
	}
	odd := `<b>&"quoted",` + "\u2028 tab\t nl\n é ☃ \x01" + `,"time":"2001-01-01T00:00:00Z"\`
	weird := events.Actor{Kind: events.ActorUser, ID: odd, Name: odd, Channel: events.ChannelSlack}
	es := []postmortem.Entry{
		{EventID: `e1,"time":"x"`, IncidentID: "i-1", At: T0, Type: "incident.triggered", Actor: events.System("incident"), Summary: odd},
		{EventID: "e2", IncidentID: "i-1", At: T0.Add(1500 * time.Millisecond), Type: odd, Actor: weird, Summary: "fraction", Details: json.RawMessage(`{"a":1}`)},
		{EventID: "e3", IncidentID: "i-1", At: T0.Add(2*time.Second + 123456*time.Microsecond), Type: "x", Actor: events.Actor{Kind: events.ActorSystem, ID: "bare"}, Summary: ""},
		{EventID: "a1", At: T0.Add(time.Second), Type: "alert.received", Actor: weird, Summary: "attached later", AlertService: "checkout", AlertKey: "5xx"},
	}
	inTx(t, s, func(tx postmortem.Tx) error {
		if _, err := tx.IncidentInsert(ctx, postmortem.Incident{ID: "i-1", Number: 1, Title: odd, Service: "checkout", DedupKey: "5xx",
			Severity: "SEV1", Status: "triggered", TriggeredAt: T0}); err != nil {
			return err
		}
		for _, e := range es {
			if _, err := tx.EntryAdd(ctx, e); err != nil {
				return err
			}
		}
		_, err := tx.AlertsAttach(ctx, "checkout", "5xx", "i-1", T0.Add(-time.Minute))
		return err
	})
	CheckTimelineJSON(t, svc, "INC-1")
	if n, err := s.TimelineLen(ctx, "i-1"); err != nil || n != int64(len(es)) {
		t.Fatalf("timeline length %d %v, want %d", n, err, len(es))
	}
	if n, err := s.TimelineLen(ctx, "i-9"); err != nil || n != 0 {
		t.Fatalf("unknown incident's timeline length %d %v", n, err)
	}
	// In a transaction, as in the store.
	inTx(t, s, func(tx postmortem.Tx) error {
		out, n, err := tx.TimelineJSON(ctx, "i-1", []byte("["), func(dst, e []byte) ([]byte, error) { return append(append(dst, e...), ','), nil })
		if err != nil || n != len(es) {
			t.Fatalf("in a transaction: %d entries, %v", n, err)
		}
		var got []postmortem.Entry
		if err := json.Unmarshal(append(out[:len(out)-1], ']'), &got); err != nil {
			t.Fatalf("%v in %s", err, out)
		}
		if len(got) != len(es) || got[1].EventID != "a1" || got[1].IncidentID != "i-1" || got[0].Summary != odd || got[2].Actor != weird {
			t.Fatalf("entries read in a transaction %+v", got)
		}
		return nil
	})
	if _, n, err := s.TimelineJSON(ctx, "i-9", nil, func(dst, e []byte) ([]byte, error) { return append(dst, e...), nil }); err != nil || n != 0 {
		t.Fatalf("unknown incident: %d entries, %v", n, err)
	}
}

// RunUnrendered checks that entries without stored JSON — projected
// before the store kept it — are rendered and saved the first time their
// timeline is read, by the store and inside a transaction. forget clears
// every stored entry JSON; unrendered counts an incident's entries without
// one.
func RunUnrendered(t *testing.T, s postmortem.Store, forget func() error, unrendered func(incidentID string) (int64, error)) {
	ctx := context.Background()
	svc, err := postmortem.New(s, nil, postmortem.Config{})
	if err != nil {
		t.Fatal(err)
	}
	evts, alerts := Sequence()
	Project(t, svc, append(evts, alerts...)...)
	count := func() int64 {
		t.Helper()
		n, err := unrendered(IncidentID)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(); n != 0 {
		t.Fatalf("%d entries projected without their JSON", n)
	}
	if err := forget(); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != int64(len(WantTypes)) {
		t.Fatalf("forget left %d unrendered, want %d", n, len(WantTypes))
	}
	CheckTimelineJSON(t, svc, "INC-42")
	if n := count(); n != 0 {
		t.Fatalf("%d entries still unrendered after reading", n)
	}
	if err := forget(); err != nil {
		t.Fatal(err)
	}
	inTx(t, s, func(tx postmortem.Tx) error {
		out, n, err := tx.TimelineJSON(ctx, IncidentID, []byte("kept"), func(dst, e []byte) ([]byte, error) { return append(dst, e...), nil })
		if err != nil || n != len(WantTypes) {
			t.Fatalf("in a transaction: %d entries, %v", n, err)
		}
		// Started over after rendering: what was there before the call
		// is kept once, each entry is there once.
		if !bytes.HasPrefix(out, []byte("kept{")) || bytes.Count(out, []byte(`{"event_id":`)) != len(WantTypes) {
			t.Fatalf("appended %s", out)
		}
		return nil
	})
	if n := count(); n != 0 {
		t.Fatalf("%d entries unrendered after reading in a transaction", n)
	}
	CheckTimelineJSON(t, svc, "INC-42")
}
