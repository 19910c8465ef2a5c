// Package storetest is the contract every slack.Store adapter passes.
package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/services/slack"
)

// Run runs the contract against stores that open returns, a fresh one per
// subtest.
func Run(t *testing.T, open func(t *testing.T) slack.Store) {
	t0 := time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
	ctx := context.Background()
	inc := slack.Incident{ID: "inc-1", Number: 42, Title: "db down", Severity: "SEV1", Service: "db", Status: "triggered",
		AlertCount: 3, Assignee: "alice", AcknowledgedBy: "bob", ResolvedBy: "carol", Version: 2, UpdatedAt: t0}

	t.Run("incident projection", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		if _, err := s.IncidentGet(ctx, "inc-1"); !errors.Is(err, slack.ErrNotFound) {
			t.Fatalf("missing incident: %v, want ErrNotFound", err)
		}
		put(t, s, inc)
		got, err := s.IncidentGet(ctx, "inc-1")
		if err != nil || got != inc {
			t.Fatalf("got %+v %v\nwant %+v", got, err, inc)
		}
		// Where the message is is kept apart from the projection.
		must(t, s.IncidentSetMessage(ctx, "inc-1", "C1", "1.000001"))
		must(t, s.IncidentSetChannel(ctx, "inc-1", "C2", "1.000002"))
		must(t, s.IncidentSetTopic(ctx, "inc-1", "topic"))
		next := inc
		next.Status, next.Version, next.UpdatedAt = "acknowledged", 3, t0.Add(time.Minute)
		put(t, s, next)
		got, _ = s.IncidentGet(ctx, "inc-1")
		want := next
		want.Channel, want.MessageTS, want.IncChannel, want.IncMessageTS, want.Topic = "C1", "1.000001", "C2", "1.000002", "topic"
		if got != want {
			t.Fatalf("after update: %+v\nwant %+v", got, want)
		}
		if got, err := s.IncidentByNumber(ctx, 42); err != nil || got.ID != "inc-1" {
			t.Errorf("by number: %+v %v", got, err)
		}
		if got, err := s.IncidentByChannel(ctx, "C2"); err != nil || got.ID != "inc-1" {
			t.Errorf("by channel: %+v %v", got, err)
		}
		if _, err := s.IncidentByChannel(ctx, "C1"); !errors.Is(err, slack.ErrNotFound) {
			t.Errorf("the main channel is no incident channel: %v", err)
		}
		if _, err := s.IncidentByChannel(ctx, ""); !errors.Is(err, slack.ErrNotFound) {
			t.Errorf("empty channel: %v", err)
		}
		if _, err := s.IncidentByNumber(ctx, 7); !errors.Is(err, slack.ErrNotFound) {
			t.Errorf("unknown number: %v", err)
		}
	})

	t.Run("inbox and rollback", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		boom := errors.New("boom")
		err := s.InTx(ctx, func(tx slack.Tx) error {
			if first, err := tx.MarkProcessed(ctx, "c", "m1"); err != nil || !first {
				t.Fatalf("first mark: %v %v", first, err)
			}
			must(t, tx.IncidentPut(ctx, inc))
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("InTx returned %v", err)
		}
		if _, err := s.IncidentGet(ctx, "inc-1"); !errors.Is(err, slack.ErrNotFound) {
			t.Fatalf("rolled back write is visible: %v", err)
		}
		for i, want := range []bool{true, false} {
			must(t, s.InTx(ctx, func(tx slack.Tx) error {
				first, err := tx.MarkProcessed(ctx, "c", "m1")
				if first != want {
					t.Errorf("mark %d: first=%v, want %v", i, first, want)
				}
				return err
			}))
		}
		must(t, s.InTx(ctx, func(tx slack.Tx) error {
			first, err := tx.MarkProcessed(ctx, "other", "m1")
			if !first {
				t.Error("another consumer's inbox is separate")
			}
			return err
		}))
	})

	t.Run("effects", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		add := func(e slack.Effect) {
			t.Helper()
			must(t, s.InTx(ctx, func(tx slack.Tx) error { return tx.EffectAdd(ctx, e) }))
		}
		add(slack.Effect{IncidentID: "a", Kind: slack.EffectMessage, DedupKey: "message:e1", CreatedAt: t0})
		add(slack.Effect{IncidentID: "b", Kind: slack.EffectMessage, DedupKey: "message:e2", CreatedAt: t0})
		add(slack.Effect{IncidentID: "a", Kind: slack.EffectThread, DedupKey: "thread:e3", Text: "hello", CreatedAt: t0})
		add(slack.Effect{IncidentID: "a", Kind: slack.EffectThread, DedupKey: "thread:e3", Text: "again", CreatedAt: t0})
		got, err := s.Effects(ctx, "a")
		if err != nil || len(got) != 2 {
			t.Fatalf("effects of a: %+v %v", got, err)
		}
		if got[0].Kind != slack.EffectMessage || got[1].Text != "hello" || got[0].Seq >= got[1].Seq || !got[1].CreatedAt.Equal(t0) {
			t.Errorf("effects out of order or changed: %+v", got)
		}
		ids, err := s.EffectIncidents(ctx, 10)
		if err != nil || !slices.Equal(ids, []string{"a", "b"}) {
			t.Errorf("incidents with effects %v %v, want [a b]", ids, err)
		}
		if ids, _ := s.EffectIncidents(ctx, 1); len(ids) != 1 {
			t.Errorf("limit 1 gave %v", ids)
		}
		must(t, s.EffectDelete(ctx, got[0].Seq))
		must(t, s.EffectDelete(ctx, got[1].Seq))
		if got, _ := s.Effects(ctx, "a"); len(got) != 0 {
			t.Errorf("deleted effects remain: %+v", got)
		}
		// Once done, the same key may be added again.
		add(slack.Effect{IncidentID: "a", Kind: slack.EffectThread, DedupKey: "thread:e3", Text: "later", CreatedAt: t0})
		if got, _ := s.Effects(ctx, "a"); len(got) != 1 || got[0].Text != "later" {
			t.Errorf("re-added effect: %+v", got)
		}
	})

	t.Run("flush lease", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		claim := func(owner string, until time.Time, want bool) {
			t.Helper()
			ok, err := s.FlushClaim(ctx, "a", owner, until)
			if err != nil || ok != want {
				t.Fatalf("FlushClaim(%s) = %v, %v; want %v", owner, ok, err, want)
			}
		}
		later := time.Now().Add(time.Minute)
		claim("r1", later, true)
		claim("r2", later, false) // r1 holds it
		claim("r1", later, true)  // r1 renews it
		if ok, err := s.FlushClaim(ctx, "b", "r2", later); err != nil || !ok {
			t.Fatalf("a lease on another incident: %v %v", ok, err)
		}
		must(t, s.FlushRelease(ctx, "a", "r2")) // not r2's: no effect
		claim("r2", later, false)
		must(t, s.FlushRelease(ctx, "a", "r1"))
		claim("r2", later, true)
		// An expired lease (a crashed holder) is taken over.
		must(t, s.FlushRelease(ctx, "a", "r2"))
		claim("r3", time.Now().Add(-time.Second), true)
		claim("r4", later, true)
	})

	t.Run("flush lease in a transaction, and done", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		later := time.Now().Add(time.Minute)
		txClaim := func(owner string, fail error) (bool, error) {
			var ok bool
			err := s.InTx(ctx, func(tx slack.Tx) error {
				if err := tx.EffectAdd(ctx, slack.Effect{IncidentID: "a", Kind: slack.EffectMessage, DedupKey: "message:" + owner, CreatedAt: t0}); err != nil {
					return err
				}
				var err error
				if ok, err = tx.FlushClaim(ctx, "a", owner, later); err != nil {
					return err
				}
				return fail
			})
			return ok, err
		}
		// Rolled back with its effect: the lease is still free.
		boom := errors.New("boom")
		if _, err := txClaim("r1", boom); !errors.Is(err, boom) {
			t.Fatalf("rolled back claim: %v", err)
		}
		if ok, err := txClaim("r2", nil); err != nil || !ok {
			t.Fatalf("claim after a rollback: %v %v", ok, err)
		}
		if ok, err := s.FlushClaim(ctx, "a", "r1", later); err != nil || ok {
			t.Fatalf("r2 holds the lease claimed in its transaction, yet r1 got it: %v %v", ok, err)
		}
		if ok, err := txClaim("r1", nil); err != nil || ok {
			t.Fatalf("in a transaction too, r2's lease holds: %v %v", ok, err)
		}
		got, err := s.Effects(ctx, "a")
		if err != nil || len(got) != 2 {
			t.Fatalf("effects: %+v %v", got, err)
		}
		// Not r1's lease: the deletes happen, the lease stays.
		done := func(owner string, seqs ...int64) {
			t.Helper()
			must(t, s.InTx(ctx, func(tx slack.Tx) error { return tx.FlushDone(ctx, "a", owner, seqs) }))
		}
		done("r1", got[0].Seq, 999999)
		if left, _ := s.Effects(ctx, "a"); len(left) != 1 || left[0].Seq != got[1].Seq {
			t.Fatalf("after FlushDone of the first: %+v", left)
		}
		if ok, _ := s.FlushClaim(ctx, "a", "r1", later); ok {
			t.Fatal("FlushDone released another owner's lease")
		}
		done("r2", got[1].Seq)
		if left, _ := s.Effects(ctx, "a"); len(left) != 0 {
			t.Fatalf("after FlushDone: %+v", left)
		}
		if ok, err := s.FlushClaim(ctx, "a", "r1", later); err != nil || !ok {
			t.Fatalf("FlushDone kept r2's lease: %v %v", ok, err)
		}
	})

	t.Run("users", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		if _, err := s.UserGet(ctx, "U1"); !errors.Is(err, slack.ErrNotFound) {
			t.Fatalf("missing user: %v", err)
		}
		u := slack.UserLink{SlackUserID: "U1", FirebreakID: "alice", Email: "alice@example.com", Name: "Alice", LinkedAt: t0}
		must(t, s.UserSave(ctx, u))
		if got, err := s.UserGet(ctx, "U1"); err != nil || got != u {
			t.Fatalf("got %+v %v, want %+v", got, err, u)
		}
		u.FirebreakID, u.Provisioned, u.LinkedAt = "alice2", true, t0.Add(time.Hour)
		must(t, s.UserSave(ctx, u))
		if got, _ := s.UserGet(ctx, "U1"); got != u {
			t.Errorf("relinked: %+v, want %+v", got, u)
		}
		must(t, s.UserSave(ctx, slack.UserLink{SlackUserID: "U2", FirebreakID: "alice2", LinkedAt: t0}))
		if got, err := s.UserByFirebreakID(ctx, "alice2"); err != nil || got.SlackUserID != "U1" {
			t.Errorf("by firebreak id: %+v %v, want the most recent link U1", got, err)
		}
		if _, err := s.UserByFirebreakID(ctx, "nobody"); !errors.Is(err, slack.ErrNotFound) {
			t.Errorf("unknown firebreak id: %v", err)
		}
	})

	t.Run("commands and outbox", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		env := events.MustNew(events.CmdIncidentAcknowledge, slack.Name, "inc-1", events.Actor{Kind: events.ActorUser, ID: "alice", Channel: events.ChannelSlack},
			events.IncidentCommand{Incident: "inc-1"})
		c := slack.IssuedCommand{CommandID: env.ID, SlackUserID: "U1", Channel: "C1", IncidentID: "inc-1", CreatedAt: t0}
		for range 2 {
			must(t, s.InTx(ctx, func(tx slack.Tx) error {
				if err := tx.CommandAdd(ctx, c); err != nil {
					return err
				}
				return tx.Emit(ctx, env)
			}))
		}
		if got, err := s.CommandGet(ctx, env.ID); err != nil || got != c {
			t.Errorf("command: %+v %v, want %+v", got, err, c)
		}
		if _, err := s.CommandGet(ctx, "nope"); !errors.Is(err, slack.ErrNotFound) {
			t.Errorf("unknown command: %v", err)
		}
	})
}

func put(t *testing.T, s slack.Store, inc slack.Incident) {
	t.Helper()
	must(t, s.InTx(context.Background(), func(tx slack.Tx) error { return tx.IncidentPut(context.Background(), inc) }))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
