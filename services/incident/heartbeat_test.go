package incident_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/fault"
	"github.com/firebreak-dev/firebreak/services/incident"
)

// TestHeartbeat: a monitor starts at its first ping; a missed interval
// opens one incident; the next ping resolves it; wrong keys learn nothing.
func TestHeartbeat(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e engine) {
		h := newHarness(t, e, true)
		ctx := context.Background()
		hb, key, err := h.svc.CreateHeartbeat(ctx, "nightly-backup", "backups", time.Hour)
		if err != nil || hb.Status != incident.HeartbeatNew || len(key) < 30 {
			t.Fatalf("create: %+v %q %v", hb, key, err)
		}
		if _, _, err := h.svc.CreateHeartbeat(ctx, "nightly-backup", "backups", time.Hour); !errors.Is(err, incident.ErrHeartbeatExists) {
			t.Fatalf("duplicate name: %v", err)
		}
		for _, bad := range []struct {
			name, service string
			every         time.Duration
			field         string
		}{{"a b", "s", time.Hour, "name"}, {"x", "", time.Hour, "service"}, {"x", "s", time.Second, "interval_seconds"}} {
			if _, _, err := h.svc.CreateHeartbeat(ctx, bad.name, bad.service, bad.every); fault.DetailsOf(err)["field"] != bad.field {
				t.Errorf("create %+v: %v", bad, err)
			}
		}
		// never pinged: nothing is armed
		if n := h.fireDue(t, h.now().Add(48*time.Hour)); n != 0 {
			t.Fatalf("an unpinged monitor fired (%d)", n)
		}
		for _, k := range []string{"fbh_nope", "nope", ""} {
			if _, err := h.svc.Ping(ctx, k); !errors.Is(err, incident.ErrUnknownHeartbeat) {
				t.Fatalf("ping %q: %v", k, err)
			}
		}
		if _, err := h.svc.Ping(ctx, key); err != nil {
			t.Fatal(err)
		}
		pinged := h.now()
		if _, err := h.svc.Ping(ctx, key); err != nil { // a second ping re-arms the timer
			t.Fatal(err)
		}
		if n := h.fireDue(t, pinged.Add(59*time.Minute)); n != 0 {
			t.Fatalf("fired before the interval (%d)", n)
		}
		if n := h.fireDue(t, pinged.Add(61*time.Minute)); n != 1 {
			t.Fatalf("%d fired after the interval, want 1", n)
		}
		list, _ := h.svc.List(ctx, incident.ListFilter{Limit: 10})
		if len(list) != 1 || list[0].DedupKey != "heartbeat-nightly-backup" || list[0].Status != incident.StatusTriggered || list[0].Severity != "SEV1" {
			t.Fatalf("incidents after the missed heartbeat: %+v", list)
		}
		if _, err := h.svc.Ping(ctx, key); err != nil {
			t.Fatal(err)
		}
		inc, _ := h.svc.Get(ctx, "INC-1")
		if inc.Status != incident.StatusResolved || inc.AlertCount != 1 {
			t.Fatalf("after the next ping: %+v", inc)
		}
		got := h.types(t)
		want := []string{events.TypeAlertReceived, events.TypeIncidentTriggered, events.TypeAlertReceived, events.TypeIncidentResolved}
		if !equal(got, want) {
			t.Fatalf("outbox %v, want %v", got, want)
		}
	})
}
