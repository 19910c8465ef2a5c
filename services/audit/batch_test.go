package audit_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/bus"
	"github.com/firebreak-dev/firebreak/services/audit"
	"github.com/firebreak-dev/firebreak/services/audit/storetest"
)

// TestRecordBatch: a batch is logged in order in one append; redelivering
// it appends nothing; an envelope that cannot be canonicalized is singled
// out for the dead-letter stream when the router retries the batch one
// envelope at a time, and the rest of its batch is logged.
func TestRecordBatch(t *testing.T) {
	svc, store := newService(t, 1000)
	ctx := t.Context()
	var batch []events.Envelope
	for i := range 5 {
		batch = append(batch, storetest.Env(t, i, "inc-1"))
	}
	if err := audit.RecordBatch(svc, ctx, batch); err != nil {
		t.Fatal(err)
	}
	if err := audit.RecordBatch(svc, ctx, batch); err != nil { // redelivery
		t.Fatal(err)
	}
	h, err := store.Head(ctx)
	if err != nil || h.Seq != 5 {
		t.Fatalf("head = %+v, %v; want 5 records after a batch delivered twice", h, err)
	}

	bad := storetest.Env(t, 10, "inc-2")
	bad.Data = json.RawMessage(`{"incident_id":"inc-2","note":"a","note":"b"}`) // duplicate member
	next := []events.Envelope{storetest.Env(t, 11, "inc-2"), bad, storetest.Env(t, 12, "inc-2")}
	// The batch fails as a whole, and not permanently: the router then
	// hands its envelopes over one at a time (bus.HandleBatch), which is
	// what the loop below does.
	err = audit.RecordBatch(svc, ctx, next)
	if err == nil || !strings.Contains(err.Error(), "duplicate member") || bus.IsPermanent(err) {
		t.Fatalf("err = %v; want a retryable failure naming the duplicate member", err)
	}
	if h, _ := store.Head(ctx); h.Seq != 5 {
		t.Fatalf("head = %d after a failed batch, want 5 (nothing of it logged)", h.Seq)
	}
	for i, env := range next {
		err := audit.RecordBatch(svc, ctx, []events.Envelope{env})
		switch {
		case i == 1 && (err == nil || !bus.IsPermanent(err)):
			t.Fatalf("bad envelope alone: err = %v, want a permanent error (dead-lettered)", err)
		case i != 1 && err != nil:
			t.Fatalf("envelope %d alone: %v", i, err)
		}
	}
	recs, err := store.Range(ctx, 6, 0, audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		got = append(got, r.MsgID)
	}
	if want := []string{next[0].ID, next[2].ID}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("logged %v, want the two good envelopes %v in order", got, want)
	}
	if rep, err := svc.Verify(ctx); err != nil || !rep.OK || rep.Records != 7 {
		t.Errorf("verify = %+v, %v", rep, err)
	}
}
