package events_test

import (
	"encoding/json"
	"testing"

	"github.com/firebreak-dev/firebreak/events"
)

// FuzzDecode: envelopes arrive from outside producers over NATS; no input
// panics, and whatever decodes is valid and survives a round trip.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"id":"1","type":"alert.received","version":1,"source":"s","time":"2026-01-01T00:00:00Z","correlation_id":"1","actor":{"kind":"integration","id":"x"},"data":{}}`))
	f.Add([]byte(`{"id":"","data":null}`))
	f.Add([]byte(`{"time":"2026-13-01T00:00:00Z"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := events.Decode(b)
		if err != nil {
			return
		}
		if err := e.Validate(); err != nil {
			t.Fatalf("Decode returned an invalid envelope: %v", err)
		}
		out, err := e.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := events.Decode(out); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
	})
}

// FuzzFromCloudEvent: CloudEvents from outside producers never panic the
// mapping, and what maps is a valid envelope.
func FuzzFromCloudEvent(f *testing.F) {
	f.Add([]byte(`{"specversion":"1.0","id":"1","source":"prometheus","type":"dev.firebreak.alert.received","data":{"a":1}}`))
	f.Add([]byte(`{"specversion":"1.0","id":"1","source":"s","type":"t","typeversion":"-1"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var ce events.CloudEvent
		if json.Unmarshal(b, &ce) != nil {
			return
		}
		e, err := events.FromCloudEvent(ce)
		if err != nil {
			return
		}
		if err := e.Validate(); err != nil {
			t.Fatalf("invalid envelope from %s: %v", b, err)
		}
	})
}
