// Package storetest is the contract every notify.Store adapter passes. Each
// adapter's tests call Run with a function that opens a fresh, migrated
// store ("outbox", "timer" and "notify" sets).
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/timer"
	"github.com/firebreak-dev/firebreak/services/notify"
)

// OutboxCounter is implemented by adapters that can count unpublished
// outbox rows.
type OutboxCounter interface {
	OutboxCount(ctx context.Context) (int64, error)
}

// Run runs the contract against stores from open.
func Run(t *testing.T, open func(t *testing.T) notify.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s notify.Store)
	}{
		{"delivery round trip", testRoundTrip},
		{"create is idempotent", testCreateIdempotent},
		{"concurrent creates store one", testConcurrentCreate},
		{"update is conditional", testUpdateConditional},
		{"list by incident and number", testList},
		{"inbox outbox and rollback", testInboxOutbox},
		{"timers fire with the effect", testFireTimer},
		{"notice delivery round trip", testNoticeRoundTrip},
		{"subscribers", testSubscribers},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open(t))
		})
	}
}

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 123456000, time.UTC)

// Sample is a delivery using every field, times in UTC at microsecond
// precision.
func Sample(key string) notify.Delivery {
	return notify.Delivery{
		Key: key, IncidentID: "0195f3a2-7c4e-7b3a-9d2e-6f1a2b3c4d5e", Number: 42,
		EventID: "0195f3a2-7c4e-7b3a-9d2e-000000000009", CorrelationID: "corr-1",
		Provider: events.ProviderWebhook, Target: "user:alice", ContactMethod: "hook",
		Status: notify.StatusPending, Attempts: 0, Reason: "",
		Page: events.PageRequested{IncidentID: "0195f3a2-7c4e-7b3a-9d2e-6f1a2b3c4d5e", Number: 42, Title: "Disk full",
			Severity: "SEV1", Service: "checkout", Level: 1, Policy: "web", Target: events.PageTarget{Type: "user", ID: "alice"},
			User: "alice", ContactMethod: &events.PageContact{Name: "hook", Type: "webhook", Address: "https://hooks.example.com/x"},
			RuleDelayMinutes: 0, IdempotencyKey: key},
		CreatedAt: t0, UpdatedAt: t0, NextAttemptAt: t0,
	}
}

func create(t *testing.T, s notify.Store, d notify.Delivery) bool {
	t.Helper()
	var created bool
	err := s.InTx(context.Background(), func(tx notify.Tx) error {
		var err error
		created, err = tx.DeliveryCreate(context.Background(), d)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return created
}

func testRoundTrip(t *testing.T, s notify.Store) {
	ctx := context.Background()
	want := Sample("inc/1/alice/hook|webhook")
	if !create(t, s, want) {
		t.Fatal("first create reports not created")
	}
	got, err := s.DeliveryGet(ctx, want.Key)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip\n got %+v\nwant %+v", got, want)
	}
	// Every status and the optional times.
	next := want
	next.Status, next.Attempts, next.Reason = notify.StatusSent, 2, ""
	next.UpdatedAt, next.NextAttemptAt, next.SentAt = t0.Add(time.Minute), time.Time{}, t0.Add(time.Minute)
	err = s.InTx(ctx, func(tx notify.Tx) error { return tx.DeliveryUpdate(ctx, next, notify.StatusPending, 0) })
	if err != nil {
		t.Fatal(err)
	}
	if got, _ = s.DeliveryGet(ctx, want.Key); !reflect.DeepEqual(got, next) {
		t.Fatalf("after update\n got %+v\nwant %+v", got, next)
	}
	if _, err := s.DeliveryGet(ctx, "nope"); !errors.Is(err, notify.ErrNotFound) {
		t.Fatalf("missing delivery: %v, want ErrNotFound", err)
	}
}

func testCreateIdempotent(t *testing.T, s notify.Store) {
	ctx := context.Background()
	d := Sample("k|slack")
	if !create(t, s, d) {
		t.Fatal("not created")
	}
	other := d
	other.Status, other.Reason, other.EventID = notify.StatusFailed, "other", "another-event"
	if create(t, s, other) {
		t.Fatal("second create with the same key reports created")
	}
	got, _ := s.DeliveryGet(ctx, d.Key)
	if got.Status != notify.StatusPending || got.EventID != d.EventID {
		t.Fatalf("second create changed the delivery: %+v", got)
	}
}

func testConcurrentCreate(t *testing.T, s notify.Store) {
	var wg sync.WaitGroup
	var created atomic.Int32
	for range 8 {
		wg.Go(func() {
			var c bool
			err := s.InTx(context.Background(), func(tx notify.Tx) error {
				var err error
				c, err = tx.DeliveryCreate(context.Background(), Sample("race|email"))
				return err
			})
			if err != nil {
				t.Error(err)
			}
			if c {
				created.Add(1)
			}
		})
	}
	wg.Wait()
	if n := created.Load(); n != 1 {
		t.Fatalf("%d concurrent creates of one key stored it, want 1", n)
	}
}

func testUpdateConditional(t *testing.T, s notify.Store) {
	ctx := context.Background()
	d := Sample("cond|webhook")
	create(t, s, d)
	sending := d
	sending.Status, sending.Attempts = notify.StatusSending, 1
	if err := s.InTx(ctx, func(tx notify.Tx) error { return tx.DeliveryUpdate(ctx, sending, notify.StatusPending, 0) }); err != nil {
		t.Fatal(err)
	}
	// A writer that read the old state loses.
	stale := d
	stale.Status, stale.Attempts = notify.StatusSending, 1
	err := s.InTx(ctx, func(tx notify.Tx) error { return tx.DeliveryUpdate(ctx, stale, notify.StatusPending, 0) })
	if !errors.Is(err, notify.ErrConflict) {
		t.Fatalf("stale update: %v, want ErrConflict", err)
	}
	missing := Sample("missing|webhook")
	err = s.InTx(ctx, func(tx notify.Tx) error { return tx.DeliveryUpdate(ctx, missing, notify.StatusPending, 0) })
	if !errors.Is(err, notify.ErrNotFound) {
		t.Fatalf("update of a missing delivery: %v, want ErrNotFound", err)
	}
}

func testList(t *testing.T, s notify.Store) {
	ctx := context.Background()
	a := Sample("b|webhook")
	b := Sample("a|slack")
	b.CreatedAt = t0.Add(time.Second)
	c := Sample("c|email")
	c.IncidentID, c.Number = "other-incident", 43
	for _, d := range []notify.Delivery{b, a, c} {
		create(t, s, d)
	}
	byID, err := s.DeliveryList(ctx, a.IncidentID, 0)
	if err != nil {
		t.Fatal(err)
	}
	byNum, err := s.DeliveryList(ctx, "", 42)
	if err != nil {
		t.Fatal(err)
	}
	for _, got := range [][]notify.Delivery{byID, byNum} {
		if len(got) != 2 || got[0].Key != a.Key || got[1].Key != b.Key {
			t.Fatalf("list: %+v, want %s then %s (oldest first)", got, a.Key, b.Key)
		}
	}
	none, err := s.DeliveryList(ctx, "unknown", 0)
	if err != nil || len(none) != 0 {
		t.Fatalf("list of an unknown incident: %v %v", none, err)
	}
}

func testInboxOutbox(t *testing.T, s notify.Store) {
	ctx := context.Background()
	env := events.MustNew(events.TypeNotificationSent, notify.Name, "inc", events.System(notify.Name),
		events.NotificationSent{IncidentID: "inc", Number: 1, DeliveryKey: "k", PageKey: "k", Provider: "slack", Attempts: 1})
	boom := errors.New("boom")
	err := s.InTx(ctx, func(tx notify.Tx) error {
		if _, err := tx.MarkProcessed(ctx, "c", "m1"); err != nil {
			return err
		}
		if _, err := tx.DeliveryCreate(ctx, Sample("rolled|slack")); err != nil {
			return err
		}
		if err := tx.Emit(ctx, env); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTx: %v", err)
	}
	if _, err := s.DeliveryGet(ctx, "rolled|slack"); !errors.Is(err, notify.ErrNotFound) {
		t.Fatalf("rolled-back delivery: %v", err)
	}
	var first, second bool
	err = s.InTx(ctx, func(tx notify.Tx) error {
		var err error
		if first, err = tx.MarkProcessed(ctx, "c", "m1"); err != nil {
			return err
		}
		if second, err = tx.MarkProcessed(ctx, "c", "m1"); err != nil {
			return err
		}
		return tx.Emit(ctx, env)
	})
	if err != nil || !first || second {
		t.Fatalf("inbox: first %v second %v err %v (the rolled-back mark must not count)", first, second, err)
	}
	if oc, ok := s.(OutboxCounter); ok {
		if n, err := oc.OutboxCount(ctx); err != nil || n != 1 {
			t.Fatalf("outbox rows %d %v, want 1", n, err)
		}
	}
}

func testFireTimer(t *testing.T, s notify.Store) {
	ctx := context.Background()
	d := Sample("timer|webhook")
	create(t, s, d)
	err := s.InTx(ctx, func(tx notify.Tx) error {
		return tx.ScheduleTimer(ctx, timer.Timer{Kind: notify.TimerDeliver, Key: d.Key, DueAt: t0, CreatedAt: t0})
	})
	if err != nil {
		t.Fatal(err)
	}
	claimed, err := s.Timers().ClaimDue(ctx, t0, 10, "runner-a", time.Minute)
	if err != nil || len(claimed) != 1 {
		t.Fatalf("claim: %v %v", claimed, err)
	}
	// The effect and the timer's deletion commit together; scheduling the
	// same kind and key inside the effect leaves a new timer behind.
	err = s.FireTimer(ctx, claimed[0], func(tx notify.Tx) error {
		next := d
		next.Status, next.Attempts = notify.StatusSending, 1
		if err := tx.DeliveryUpdate(ctx, next, notify.StatusPending, 0); err != nil {
			return err
		}
		return tx.ScheduleTimer(ctx, timer.Timer{Kind: notify.TimerDeliver, Key: d.Key, DueAt: t0.Add(time.Minute), CreatedAt: t0})
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := s.DeliveryGet(ctx, d.Key); got.Status != notify.StatusSending || got.Attempts != 1 {
		t.Fatalf("after fire: %+v", got)
	}
	if err := s.FireTimer(ctx, claimed[0], func(notify.Tx) error { t.Error("fired twice"); return nil }); !errors.Is(err, timer.ErrGone) {
		t.Fatalf("second fire: %v, want ErrGone", err)
	}
	again, err := s.Timers().ClaimDue(ctx, t0.Add(time.Minute), 10, "runner-a", time.Minute)
	if err != nil || len(again) != 1 || again[0].Key != d.Key {
		t.Fatalf("rescheduled timer: %v %v", again, err)
	}
	var cancelled bool
	err = s.InTx(ctx, func(tx notify.Tx) error {
		var err error
		cancelled, err = tx.CancelTimer(ctx, notify.TimerDeliver, d.Key)
		return err
	})
	if err != nil || !cancelled {
		t.Fatalf("cancel: %v %v", cancelled, err)
	}
}

func testNoticeRoundTrip(t *testing.T, s notify.Store) {
	ctx := context.Background()
	d := notify.Delivery{
		Key: "evt-1|sub-1", EventID: "evt-1", Provider: events.ProviderEmail, Target: "subscriber:sub-1",
		Status: notify.StatusPending, CreatedAt: t0, UpdatedAt: t0, NextAttemptAt: t0,
		Notice: &notify.Notice{Topic: notify.TopicStatus, EventType: events.TypeStatusUpdatePublished, SubscriberID: "sub-1",
			Address: "ops@example.com", Subject: "Checkout errors", Body: "A fix is in place.\n", URL: "https://status.example.com/x",
			Data: []byte(`{"update_id":"su-1"}`)},
	}
	if !create(t, s, d) {
		t.Fatal("not created")
	}
	got, err := s.DeliveryGet(ctx, d.Key)
	if err != nil {
		t.Fatal(err)
	}
	if got.Notice == nil {
		t.Fatal("notice lost")
	}
	// PostgreSQL's jsonb re-spaces the event data: compare it as JSON.
	var gotData, wantData any
	if err := json.Unmarshal(got.Notice.Data, &gotData); err != nil {
		t.Fatal(err)
	}
	_ = json.Unmarshal(d.Notice.Data, &wantData)
	if !reflect.DeepEqual(gotData, wantData) {
		t.Fatalf("notice data = %s, want %s", got.Notice.Data, d.Notice.Data)
	}
	gn, wn := *got.Notice, *d.Notice
	gn.Data, wn.Data = nil, nil
	if !reflect.DeepEqual(gn, wn) {
		t.Fatalf("notice = %+v, want %+v", gn, wn)
	}
	if create(t, s, d) {
		t.Fatal("a notice delivery with the same key was stored twice")
	}
	page, err := s.DeliveryGet(ctx, create2(t, s))
	if err != nil {
		t.Fatal(err)
	}
	if page.Notice != nil {
		t.Fatalf("a page delivery has a notice: %+v", page.Notice)
	}
}

func create2(t *testing.T, s notify.Store) string {
	d := Sample("page-key|webhook")
	create(t, s, d)
	return d.Key
}

func testSubscribers(t *testing.T, s notify.Store) {
	ctx := context.Background()
	a := notify.Subscriber{ID: "sub-a", Kind: notify.SubscriberEmail, Address: "ops@example.com",
		Topics: []string{notify.TopicAdvisories, notify.TopicStatus}, TokenHash: "hash-a", CreatedAt: t0}
	b := notify.Subscriber{ID: "sub-b", Kind: notify.SubscriberWebhook, Address: "https://hooks.example.com/status",
		Topics: []string{notify.TopicStatus}, Service: "checkout", TokenHash: "hash-b", CreatedAt: t0.Add(time.Second)}
	for _, sub := range []notify.Subscriber{b, a} {
		if err := s.InTx(ctx, func(tx notify.Tx) error { return tx.SubscriberCreate(ctx, sub) }); err != nil {
			t.Fatal(err)
		}
	}
	dup := a
	dup.ID, dup.TokenHash = "sub-dup", "hash-dup"
	err := s.InTx(ctx, func(tx notify.Tx) error { return tx.SubscriberCreate(ctx, dup) })
	if !errors.Is(err, notify.ErrConflict) {
		t.Fatalf("same kind, address and service again: err = %v, want ErrConflict", err)
	}
	other := dup
	other.Service, other.CreatedAt = "search", t0.Add(2*time.Second)
	if err := s.InTx(ctx, func(tx notify.Tx) error { return tx.SubscriberCreate(ctx, other) }); err != nil {
		t.Fatalf("same address, other service: %v", err)
	}

	list, err := s.SubscriberList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := []notify.Subscriber{a, b, other}; !reflect.DeepEqual(list, want) {
		t.Fatalf("list = %+v\nwant %+v", list, want)
	}
	got, err := s.SubscriberGet(ctx, "sub-b")
	if err != nil || !reflect.DeepEqual(got, b) {
		t.Fatalf("get = %+v, %v; want %+v", got, err, b)
	}
	if _, err := s.SubscriberGet(ctx, "nope"); !errors.Is(err, notify.ErrNotFound) {
		t.Fatalf("get unknown: err = %v, want ErrNotFound", err)
	}
	err = s.InTx(ctx, func(tx notify.Tx) error {
		got, err := tx.SubscriberGetByTokenHash(ctx, "hash-a")
		if err != nil || got.ID != "sub-a" {
			t.Errorf("by token hash = %+v, %v", got, err)
		}
		if _, err := tx.SubscriberGetByTokenHash(ctx, "hash-zzz"); !errors.Is(err, notify.ErrNotFound) {
			t.Errorf("unknown token hash: err = %v, want ErrNotFound", err)
		}
		inTx, err := tx.SubscriberList(ctx)
		if err != nil || len(inTx) != 3 {
			t.Errorf("list in tx = %d, %v", len(inTx), err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var deleted, again bool
	err = s.InTx(ctx, func(tx notify.Tx) error {
		var err error
		if deleted, err = tx.SubscriberDelete(ctx, "sub-a"); err != nil {
			return err
		}
		again, err = tx.SubscriberDelete(ctx, "sub-a")
		return err
	})
	if err != nil || !deleted || again {
		t.Fatalf("delete = %v, again = %v, err = %v", deleted, again, err)
	}
	if _, err := s.SubscriberGet(ctx, "sub-a"); !errors.Is(err, notify.ErrNotFound) {
		t.Fatalf("deleted subscriber: err = %v, want ErrNotFound", err)
	}
}
