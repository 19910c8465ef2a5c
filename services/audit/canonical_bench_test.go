package audit_test

import (
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/services/audit"
)

func BenchmarkCanonicalize(b *testing.B) {
	env := events.MustNew(events.TypeIncidentTriggered, "incident", "0195f3a2-7c4e-7b3a-9d2e-6f1a2b3c4d5e",
		events.Actor{Kind: events.ActorUser, ID: "alice", Name: "Alice", Channel: events.ChannelCLI},
		events.IncidentTriggered{IncidentRef: events.IncidentRef{IncidentID: "0195f3a2-7c4e-7b3a-9d2e-6f1a2b3c4d5e", Number: 42, Version: 1},
			Service: "checkout", DedupKey: "disk-full-db1", Title: "Disk 95% full on db1", Severity: "SEV1", AlertSeverity: "critical"},
		events.At(time.Date(2026, 11, 28, 9, 30, 0, 0, time.UTC)))
	raw, err := env.Encode()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := audit.Canonicalize(raw); err != nil {
			b.Fatal(err)
		}
	}
}
