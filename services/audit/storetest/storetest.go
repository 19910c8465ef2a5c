// Package storetest is the contract every audit.Store adapter passes,
// including verification of a chain tampered with directly in SQL.
package storetest

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/services/audit"
)

// Harness is a fresh store and a way to run raw SQL on its database, as
// someone with database access would to tamper with the log.
type Harness struct {
	Store audit.Store
	Exec  func(t *testing.T, stmt string)
}

// Env returns a test envelope numbered i about incident inc.
func Env(t testing.TB, i int, inc string) events.Envelope {
	t.Helper()
	actor := events.Actor{Kind: events.ActorUser, ID: []string{"alice", "bob"}[i%2], Channel: events.ChannelCLI}
	env, err := events.New(events.TypeIncidentNoteAdded, "incident", inc, actor, map[string]any{"incident_id": inc, "note": fmt.Sprintf("note %d", i)},
		events.At(time.Date(2026, 11, 28, 9, 0, i, 0, time.UTC)))
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// chunkProbe is a batch size above the SQLite store's rows per statement.
const chunkProbe = 130

// Seed returns the signer the suite checkpoints with.
func Seed() *audit.Signer {
	s, err := audit.NewSigner([]byte(strings.Repeat("k", ed25519.SeedSize)))
	if err != nil {
		panic(err)
	}
	return s
}

func appendN(t *testing.T, s audit.Store, n int) []audit.Record {
	t.Helper()
	var out []audit.Record
	for i := range n {
		rs, err := s.Append(t.Context(), "test", time.Now(), Env(t, i, fmt.Sprintf("inc-%d", i%3)))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rs...)
	}
	return out
}

func verify(t *testing.T, s audit.Store) audit.Report {
	t.Helper()
	pub, _ := audit.ParsePublicKey(Seed().PublicKey())
	rep, err := audit.Verify(t.Context(), s, audit.WithPublicKey(pub))
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// Run runs the contract against stores open returns.
func Run(t *testing.T, open func(t *testing.T) Harness) {
	t.Run("AppendChainsAndVerifies", func(t *testing.T) {
		t.Parallel()
		h := open(t)
		recs := appendN(t, h.Store, 5)
		for i, r := range recs {
			if r.Seq != int64(i+1) {
				t.Fatalf("record %d has seq %d", i, r.Seq)
			}
			prev := audit.GenesisHash
			if i > 0 {
				prev = recs[i-1].Hash
			}
			if r.PrevHash != prev || r.Hash != audit.Hash(prev, r.Entry) {
				t.Fatalf("record %d not chained: %+v", r.Seq, r)
			}
		}
		got, err := h.Store.Get(t.Context(), 3)
		if err != nil {
			t.Fatal(err)
		}
		if got.Entry != recs[2].Entry || got.Hash != recs[2].Hash || got.IncidentID != "inc-2" || got.ActorID != "alice" || got.Type != events.TypeIncidentNoteAdded {
			t.Fatalf("Get(3) = %+v, want %+v", got, recs[2])
		}
		if !got.RecordedAt.Equal(recs[2].RecordedAt) {
			t.Fatalf("recorded_at %v, want %v", got.RecordedAt, recs[2].RecordedAt)
		}
		if _, err := h.Store.Get(t.Context(), 99); !errors.Is(err, audit.ErrNotFound) {
			t.Fatalf("Get(99) = %v, want ErrNotFound", err)
		}
		head, err := h.Store.Head(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if head.Seq != 5 || head.Hash != recs[4].Hash || head.AnchorSeq != 0 || head.AnchorHash != audit.GenesisHash {
			t.Fatalf("head = %+v", head)
		}
		if rep := verify(t, h.Store); !rep.OK || rep.Records != 5 || rep.From != 1 || rep.To != 5 {
			t.Fatalf("verify = %+v", rep)
		}
	})

	t.Run("EmptyLogVerifies", func(t *testing.T) {
		t.Parallel()
		h := open(t)
		if rep := verify(t, h.Store); !rep.OK || rep.Records != 0 {
			t.Fatalf("verify = %+v", rep)
		}
	})

	t.Run("RedeliveryAppendsNothing", func(t *testing.T) {
		t.Parallel()
		h := open(t)
		ctx := t.Context()
		env := Env(t, 1, "inc-1")
		if rs, err := h.Store.Append(ctx, "c1", time.Now(), env); err != nil || len(rs) != 1 {
			t.Fatalf("first append = %v, %v", rs, err)
		}
		for _, consumer := range []string{"c1", "c2"} {
			rs, err := h.Store.Append(ctx, consumer, time.Now(), env)
			if err != nil || len(rs) != 0 {
				t.Fatalf("redelivery to %s appended %v, %v", consumer, rs, err)
			}
		}
		// A batch: the known one is skipped, the new ones chain on.
		rs, err := h.Store.Append(ctx, "c1", time.Now(), env, Env(t, 2, "inc-1"), Env(t, 3, "inc-1"))
		if err != nil || len(rs) != 2 || rs[0].Seq != 2 || rs[1].Seq != 3 {
			t.Fatalf("batch = %+v, %v", rs, err)
		}
		if rep := verify(t, h.Store); !rep.OK || rep.Records != 3 {
			t.Fatalf("verify = %+v", rep)
		}
	})

	t.Run("LargeBatchSkipsKnownMessages", func(t *testing.T) {
		t.Parallel()
		h := open(t)
		ctx := t.Context()
		// 300 envelopes (several multi-row statements and a remainder in
		// the SQLite store): 10 and 200 are in the log under another
		// inbox, 20 was delivered before to this one, 150 comes twice.
		envs := make([]events.Envelope, 300)
		for i := range envs {
			envs[i] = Env(t, i, fmt.Sprintf("inc-%d", i%7))
		}
		envs[151] = envs[150]
		if rs, err := h.Store.Append(ctx, "c2", time.Now(), envs[10], envs[200]); err != nil || len(rs) != 2 {
			t.Fatalf("append to c2 = %v, %v", rs, err)
		}
		if rs, err := h.Store.Append(ctx, "c1", time.Now(), envs[20]); err != nil || len(rs) != 1 {
			t.Fatalf("append to c1 = %v, %v", rs, err)
		}
		rs, err := h.Store.Append(ctx, "c1", time.Now(), envs...)
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for i, env := range envs {
			if i != 10 && i != 200 && i != 20 && i != 151 {
				want = append(want, env.ID)
			}
		}
		if len(rs) != len(want) {
			t.Fatalf("appended %d records, want %d", len(rs), len(want))
		}
		for i, r := range rs {
			if r.MsgID != want[i] || r.Seq != int64(i+4) {
				t.Fatalf("record %d is %s at seq %d, want %s at %d", i, r.MsgID, r.Seq, want[i], i+4)
			}
		}
		if rep := verify(t, h.Store); !rep.OK || rep.Records != int64(len(want)+3) {
			t.Fatalf("verify = %+v", rep)
		}
		// The batch again: every message is in c1's inbox now.
		if rs, err := h.Store.Append(ctx, "c1", time.Now(), envs...); err != nil || len(rs) != 0 {
			t.Fatalf("redelivered batch appended %d, %v", len(rs), err)
		}
		// Under a third inbox name, a batch of known messages appends nothing.
		if rs, err := h.Store.Append(ctx, "c3", time.Now(), envs[:chunkProbe]...); err != nil || len(rs) != 0 {
			t.Fatalf("batch known to the log appended %d, %v", len(rs), err)
		}
	})

	t.Run("ConcurrentAppendsDoNotFork", func(t *testing.T) {
		t.Parallel()
		h := open(t)
		var wg sync.WaitGroup
		errs := make(chan error, 40)
		for w := range 4 {
			wg.Go(func() {
				for i := range 10 {
					if _, err := h.Store.Append(context.Background(), "test", time.Now(), Env(t, w*10+i, "inc")); err != nil {
						errs <- err
					}
				}
			})
		}
		// Verifying while appends go on sees a consistent prefix.
		done := make(chan struct{})
		verified := make(chan error, 1)
		go func() {
			defer close(verified)
			for {
				select {
				case <-done:
					return
				default:
				}
				rep, err := audit.Verify(context.Background(), h.Store)
				if err == nil && !rep.OK {
					err = rep.Problem
				}
				if err != nil {
					verified <- err
					return
				}
			}
		}()
		wg.Wait()
		close(done)
		if err := <-verified; err != nil {
			t.Fatalf("verify during appends: %v", err)
		}
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if rep := verify(t, h.Store); !rep.OK || rep.Records != 40 {
			t.Fatalf("verify = %+v", rep)
		}
	})

	t.Run("RangeFilters", func(t *testing.T) {
		t.Parallel()
		h := open(t)
		ctx := t.Context()
		t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		for i := range 6 {
			if _, err := h.Store.Append(ctx, "test", t0.Add(time.Duration(i)*time.Hour), Env(t, i, fmt.Sprintf("inc-%d", i%2))); err != nil {
				t.Fatal(err)
			}
		}
		seqs := func(f audit.Filter, from, to int64) string {
			rs, err := h.Store.Range(ctx, from, to, f)
			if err != nil {
				t.Fatal(err)
			}
			var s []string
			for _, r := range rs {
				s = append(s, fmt.Sprint(r.Seq))
			}
			return strings.Join(s, ",")
		}
		tests := []struct {
			name     string
			f        audit.Filter
			from, to int64
			want     string
		}{
			{"all", audit.Filter{}, 1, 0, "1,2,3,4,5,6"},
			{"from", audit.Filter{}, 4, 0, "4,5,6"},
			{"to", audit.Filter{}, 1, 2, "1,2"},
			{"limit", audit.Filter{Limit: 2}, 2, 0, "2,3"},
			{"actor", audit.Filter{Actor: "bob"}, 1, 0, "2,4,6"},
			{"incident", audit.Filter{Incident: "inc-0"}, 1, 0, "1,3,5"},
			{"type", audit.Filter{Type: events.TypeIncidentNoteAdded}, 1, 0, "1,2,3,4,5,6"},
			{"other type", audit.Filter{Type: "incident.resolved"}, 1, 0, ""},
			{"since", audit.Filter{Since: t0.Add(4 * time.Hour)}, 1, 0, "5,6"},
			{"until", audit.Filter{Until: t0.Add(2 * time.Hour)}, 1, 0, "1,2"},
			{"since until actor", audit.Filter{Since: t0.Add(time.Hour), Until: t0.Add(5 * time.Hour), Actor: "alice"}, 1, 0, "3,5"},
		}
		for _, tt := range tests {
			if got := seqs(tt.f, tt.from, tt.to); got != tt.want {
				t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
			}
		}
	})

	t.Run("CheckpointsAndArchive", func(t *testing.T) {
		t.Parallel()
		h := open(t)
		ctx := t.Context()
		recs := appendN(t, h.Store, 10)
		sg := Seed()
		for _, seq := range []int64{4, 8} {
			if err := h.Store.CheckpointAdd(ctx, sg.Sign(seq, recs[seq-1].Hash, time.Now())); err != nil {
				t.Fatal(err)
			}
		}
		// A second checkpoint at the same seq is ignored.
		if err := h.Store.CheckpointAdd(ctx, sg.Sign(4, "other", time.Now())); err != nil {
			t.Fatal(err)
		}
		cps, err := h.Store.Checkpoints(ctx, 0, 0)
		if err != nil || len(cps) != 2 || cps[0].Hash != recs[3].Hash {
			t.Fatalf("checkpoints = %+v, %v", cps, err)
		}
		if latest, err := h.Store.LatestCheckpoint(ctx); err != nil || latest.Seq != 8 {
			t.Fatalf("latest = %+v, %v", latest, err)
		}
		if rep := verify(t, h.Store); !rep.OK || rep.Checkpoints != 2 || rep.SignedThrough != 8 {
			t.Fatalf("verify = %+v", rep)
		}
		if _, err := h.Store.Archive(ctx, audit.Checkpoint{Seq: 5, Hash: recs[4].Hash}); !errors.Is(err, audit.ErrNoCheckpoint) {
			t.Fatalf("archive at a non-checkpoint = %v", err)
		}
		n, err := h.Store.Archive(ctx, cps[0])
		if err != nil || n != 4 {
			t.Fatalf("archive = %d, %v", n, err)
		}
		if _, err := h.Store.Get(ctx, 4); !errors.Is(err, audit.ErrNotFound) {
			t.Fatalf("archived record still there: %v", err)
		}
		head, _ := h.Store.Head(ctx)
		if head.AnchorSeq != 4 || head.AnchorHash != recs[3].Hash || head.Seq != 10 {
			t.Fatalf("head after archive = %+v", head)
		}
		appendN(t, h.Store, 2) // the chain goes on from the anchor
		if rep := verify(t, h.Store); !rep.OK || rep.From != 5 || rep.To != 12 || rep.Records != 8 {
			t.Fatalf("verify after archive = %+v", rep)
		}
		// Tampering after the anchor is still caught.
		h.Exec(t, "UPDATE audit_record SET entry = replace(entry, 'note 6', 'note X') WHERE seq = 7")
		if rep := verify(t, h.Store); rep.OK || rep.Problem.Seq != 7 {
			t.Fatalf("verify after tampering = %+v", rep)
		}
	})

	t.Run("Tampering", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			name    string
			stmts   []string
			seq     int64
			mention string
		}{
			{"modified entry", []string{"UPDATE audit_record SET entry = replace(entry, 'note 2', 'note 9') WHERE seq = 3"}, 3, "hash mismatch"},
			{"modified hash", []string{"UPDATE audit_record SET hash = replace(hash, substr(hash, 1, 1), 'x') WHERE seq = 3"}, 3, "hash"},
			{"modified actor column", []string{"UPDATE audit_record SET actor_id = 'mallory' WHERE seq = 2"}, 2, "actor_id"},
			{"modified type column", []string{"UPDATE audit_record SET type = 'incident.resolved' WHERE seq = 4"}, 4, "type"},
			{"deleted record", []string{"DELETE FROM audit_record WHERE seq = 3"}, 3, "missing"},
			{"deleted last record", []string{"DELETE FROM audit_record WHERE seq = 6"}, 6, "missing"},
			{"deleted first record", []string{"DELETE FROM audit_record WHERE seq = 1"}, 1, "missing"},
			{"inserted record", []string{"INSERT INTO audit_record (seq, recorded_at, msg_id, type, subject, actor_kind, actor_id, incident_id, entry, prev_hash, hash) " +
				"SELECT 7, recorded_at, 'forged', type, subject, actor_kind, actor_id, incident_id, entry, hash, hash FROM audit_record WHERE seq = 6"}, 7, "after the head"},
			// A forger who recomputes the hash is caught by the head
			// (and, had they moved the head too, by the next checkpoint).
			{"inserted record with a valid hash", []string{"INSERT INTO audit_record (seq, recorded_at, msg_id, type, subject, actor_kind, actor_id, incident_id, entry, prev_hash, hash) " +
				"SELECT 7, recorded_at, 'forged-id', type, subject, actor_kind, actor_id, incident_id, replace(entry, msg_id, 'forged-id'), hash, '{{forged}}' FROM audit_record WHERE seq = 6"}, 7, "after the head"},
			{"swapped records", []string{
				"UPDATE audit_record SET seq = -3 WHERE seq = 3",
				"UPDATE audit_record SET seq = 3 WHERE seq = 4",
				"UPDATE audit_record SET seq = 4 WHERE seq = -3",
			}, 3, "prev_hash"},
			{"truncated with head rewritten", []string{
				"DELETE FROM audit_record WHERE seq = 6",
				"UPDATE audit_head SET seq = 5, hash = (SELECT hash FROM audit_record WHERE seq = 5)",
			}, 6, "checkpoint"},
			{"forged checkpoint signature", []string{
				"UPDATE audit_checkpoint SET signature = 'AAAA' || substr(signature, 5) WHERE seq = 6"}, 6, "signature"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				h := open(t)
				recs := appendN(t, h.Store, 6)
				if err := h.Store.CheckpointAdd(t.Context(), Seed().Sign(6, recs[5].Hash, time.Now())); err != nil {
					t.Fatal(err)
				}
				for _, s := range tt.stmts {
					// {{forged}}: the hash a forger would compute for a
					// copy of record 6 appended after it.
					forged := strings.ReplaceAll(recs[5].Entry, recs[5].MsgID, "forged-id")
					h.Exec(t, strings.ReplaceAll(s, "{{forged}}", audit.Hash(recs[5].Hash, forged)))
				}
				rep := verify(t, h.Store)
				if rep.OK || rep.Problem == nil {
					t.Fatalf("verify passed a tampered chain: %+v", rep)
				}
				if rep.Problem.Seq != tt.seq || !strings.Contains(rep.Problem.Reason, tt.mention) {
					t.Fatalf("problem = %+v, want record %d and %q", rep.Problem, tt.seq, tt.mention)
				}
			})
		}
	})
}
