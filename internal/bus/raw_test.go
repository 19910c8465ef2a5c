package bus

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// TestHandleRaw: non-envelope payloads reach a raw handler with a stable
// id; a permanent error dead-letters the message with its reason while the
// ones after it keep flowing; a transient error is redelivered.
func TestHandleRaw(t *testing.T) {
	t.Parallel()
	js := startJetStream(t)
	ctx := context.Background()
	r, err := NewRouter(js, testLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu   sync.Mutex
		seen = map[string][]RawMessage{}
	)
	cfg := ConsumerConfig{Name: "raw-test", Stream: StreamIngest, FilterSubjects: []string{"fb.ingest.>"}, Backoff: []time.Duration{10 * time.Millisecond}}
	err = r.HandleRaw(cfg, func(_ context.Context, m RawMessage) error {
		mu.Lock()
		seen[string(m.Data)] = append(seen[string(m.Data)], m)
		n := len(seen[string(m.Data)])
		mu.Unlock()
		switch string(m.Data) {
		case "poison":
			return Permanent(errors.New("not an alert: bad JSON"))
		case "flaky":
			if n == 1 {
				return errors.New("try again")
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	stop := startRouter(t, r)
	defer func() { _ = stop() }()

	pub := func(data, id string) {
		m := &nats.Msg{Subject: "fb.ingest.db", Data: []byte(data), Header: nats.Header{}}
		if id != "" {
			m.Header.Set(HeaderMsgID, id)
		}
		if _, err := js.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	pub("poison", "p-1")
	pub("flaky", "")
	pub(`{"ok":true}`, "ok-1")

	get := func(k string) []RawMessage {
		mu.Lock()
		defer mu.Unlock()
		return append([]RawMessage(nil), seen[k]...)
	}
	eventually(t, "all handled", func() bool { return len(get(`{"ok":true}`)) == 1 && len(get("flaky")) == 2 })
	ok := get(`{"ok":true}`)[0]
	if ok.ID != "ok-1" || ok.Subject != "fb.ingest.db" || ok.Delivered != 1 {
		t.Fatalf("raw message %+v", ok)
	}
	flaky := get("flaky")
	if flaky[0].ID == "" || flaky[0].ID != flaky[1].ID || flaky[1].Delivered != 2 {
		t.Fatalf("redelivered id not stable: %+v", flaky)
	}
	s, err := js.Stream(ctx, StreamDLQ)
	if err != nil {
		t.Fatal(err)
	}
	var dlq *nats.Msg
	eventually(t, "dead letter", func() bool {
		m, err := s.GetLastMsgForSubject(ctx, "fb.dlq.raw-test")
		if err != nil {
			return false
		}
		dlq = &nats.Msg{Data: m.Data, Header: m.Header}
		return true
	})
	if string(dlq.Data) != "poison" || dlq.Header.Get(HeaderDLQReason) != "not an alert: bad JSON" ||
		dlq.Header.Get(HeaderDLQOriginalSubject) != "fb.ingest.db" {
		t.Fatalf("dead letter %q %v", dlq.Data, dlq.Header)
	}
	if n := len(get("poison")); n != 1 {
		t.Fatalf("poison handled %d times", n)
	}
}
