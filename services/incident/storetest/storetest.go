// Package storetest is the contract every incident.Store adapter passes. The
// SQLite and PostgreSQL adapters run it from their own tests:
//
//	storetest.Run(t, func(t *testing.T) incident.Store { ... })
package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/services/incident"
)

// OutboxCounter is what Run needs besides incident.Store: the number of
// unpublished outbox rows, to see what a transaction wrote (or did not).
// The stores open returns must implement it.
type OutboxCounter interface {
	OutboxCount(ctx context.Context) (int64, error)
}

// base is a fixed time with microsecond precision, the precision both
// engines keep.
var base = time.Date(2026, 3, 14, 15, 9, 26, 535897000, time.UTC)

var errBoom = errors.New("boom")

// Run runs the contract against the stores open returns. open is called once
// per subtest and must return a fresh, empty, migrated store that
// implements OutboxCounter; subtests run in parallel.
func Run(t *testing.T, open func(t *testing.T) incident.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s incident.Store)
	}{
		{"CreateAndGet", testCreateAndGet},
		{"GetUnknown", testGetUnknown},
		{"NumbersIncrease", testNumbersIncrease},
		{"NumbersUnderConcurrentCreators", testConcurrentNumbers},
		{"OpenDedupConflictInTx", testDedupConflictInTx},
		{"OpenDedupConflictThroughInTx", testDedupConflictThroughInTx},
		{"OpenDedupGetOrCreateRace", testGetOrCreateRace},
		{"ResolvedFreesDedupKey", testResolvedFreesDedupKey},
		{"OpenByDedupIgnoresResolved", testOpenByDedupIgnoresResolved},
		{"OptimisticUpdate", testOptimisticUpdate},
		{"UpdateMustAdvanceVersion", testUpdateMustAdvanceVersion},
		{"InTxRetriesConflicts", testInTxRetries},
		{"InTxReturnsOtherErrorsUnchanged", testInTxOtherErrors},
		{"Rollback", testRollback},
		{"MarkProcessed", testMarkProcessed},
		{"EmitVisibleAfterCommit", testEmit},
		{"Notes", testNotes},
		{"NoteOnUnknownIncident", testNoteUnknownIncident},
		{"List", testList},
		{"ListPaging", testListPaging},
		{"TimesRoundTrip", testTimes},
		{"ServiceCreateIdempotent", testServiceCreate},
		{"ServiceGetUnknown", testServiceGetUnknown},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

// newIncident returns a triggered incident at version 1 with every field set.
func newIncident(id, service, dedupKey string) incident.Incident {
	return incident.Incident{
		ID:            id,
		Service:       service,
		DedupKey:      dedupKey,
		Title:         "disk full on " + id,
		Severity:      "SEV2",
		AlertSeverity: events.SeverityError,
		Status:        incident.StatusTriggered,
		AlertCount:    1,
		Version:       1,
		CreatedAt:     base,
		UpdatedAt:     base,
		LastAlertAt:   base,
	}
}

// create creates inc in its own transaction and returns it as stored.
func create(t *testing.T, s incident.Store, inc incident.Incident) incident.Incident {
	t.Helper()
	ctx := t.Context()
	err := s.InTx(ctx, func(tx incident.Tx) error {
		n, err := tx.IncidentCreate(ctx, inc)
		inc.Number = n
		return err
	})
	if err != nil {
		t.Fatalf("create %s: %v", inc.ID, err)
	}
	return inc
}

// update writes inc at version from+1 in its own transaction.
func update(t *testing.T, s incident.Store, inc incident.Incident) incident.Incident {
	t.Helper()
	ctx := t.Context()
	from := inc.Version
	inc.Version++
	if err := s.InTx(ctx, func(tx incident.Tx) error { return tx.IncidentUpdate(ctx, inc, from) }); err != nil {
		t.Fatalf("update %s: %v", inc.ID, err)
	}
	return inc
}

func resolve(t *testing.T, s incident.Store, inc incident.Incident) incident.Incident {
	t.Helper()
	at := base.Add(time.Hour)
	inc.Status = incident.StatusResolved
	inc.ResolvedAt = &at
	inc.ResolvedBy = "U123"
	inc.UpdatedAt = at
	return update(t, s, inc)
}

func get(t *testing.T, s incident.Store, ref incident.Ref) incident.Incident {
	t.Helper()
	inc, err := s.IncidentGet(t.Context(), ref)
	if err != nil {
		t.Fatalf("get %s: %v", ref, err)
	}
	return inc
}

func outboxCount(t *testing.T, s incident.Store) int64 {
	t.Helper()
	c, ok := s.(OutboxCounter)
	if !ok {
		t.Fatalf("%T does not implement storetest.OutboxCounter", s)
	}
	n, err := c.OutboxCount(t.Context())
	if err != nil {
		t.Fatalf("outbox count: %v", err)
	}
	return n
}

func envelope(t *testing.T, subject string) events.Envelope {
	t.Helper()
	e, err := events.New(events.TypeIncidentTriggered, "incident", subject, events.System("incident"),
		map[string]string{"incident_id": subject}, events.At(base))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// equalIncident compares field by field; times must be the same instant and
// in UTC.
func equalIncident(t *testing.T, got, want incident.Incident) {
	t.Helper()
	for name, tm := range map[string]*time.Time{
		"CreatedAt": &got.CreatedAt, "UpdatedAt": &got.UpdatedAt, "LastAlertAt": &got.LastAlertAt,
		"AcknowledgedAt": got.AcknowledgedAt, "ResolvedAt": got.ResolvedAt,
	} {
		if tm != nil && tm.Location() != time.UTC {
			t.Errorf("%s %s: location %v, want UTC", got.ID, name, tm.Location())
		}
	}
	norm := func(i incident.Incident) string {
		f := func(p *time.Time) string {
			if p == nil {
				return "<nil>"
			}
			return p.UTC().Format(time.RFC3339Nano)
		}
		c, u, l := i.CreatedAt, i.UpdatedAt, i.LastAlertAt
		a, r := i.AcknowledgedAt, i.ResolvedAt
		i.CreatedAt, i.UpdatedAt, i.LastAlertAt, i.AcknowledgedAt, i.ResolvedAt = time.Time{}, time.Time{}, time.Time{}, nil, nil
		return fmt.Sprintf("%+v created=%s updated=%s last_alert=%s acked=%s resolved=%s", i, f(&c), f(&u), f(&l), f(a), f(r))
	}
	if g, w := norm(got), norm(want); g != w {
		t.Errorf("incident differs\n got: %s\nwant: %s", g, w)
	}
}

func testCreateAndGet(t *testing.T, s incident.Store) {
	ctx := t.Context()
	want := newIncident("inc-a", "checkout", "disk")
	acked := base.Add(90 * time.Second)
	want.Status = incident.StatusAcknowledged
	want.AcknowledgedAt = &acked
	want.AcknowledgedBy = "U42"
	want.AlertCount = 3
	want = create(t, s, want)
	if want.Number != 1 {
		t.Errorf("number = %d, want 1", want.Number)
	}
	for _, ref := range []incident.Ref{{ID: "inc-a"}, {Number: want.Number}} {
		equalIncident(t, get(t, s, ref), want)
	}
	err := s.InTx(ctx, func(tx incident.Tx) error {
		got, err := tx.IncidentGet(ctx, incident.Ref{Number: want.Number})
		if err != nil {
			return err
		}
		equalIncident(t, got, want)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func testGetUnknown(t *testing.T, s incident.Store) {
	ctx := t.Context()
	create(t, s, newIncident("inc-a", "checkout", "disk"))
	for _, ref := range []incident.Ref{{ID: "nope"}, {Number: 2}, {}} {
		if _, err := s.IncidentGet(ctx, ref); !errors.Is(err, incident.ErrNotFound) {
			t.Errorf("IncidentGet(%+v) = %v, want ErrNotFound", ref, err)
		}
		err := s.InTx(ctx, func(tx incident.Tx) error {
			_, err := tx.IncidentGet(ctx, ref)
			return err
		})
		if !errors.Is(err, incident.ErrNotFound) {
			t.Errorf("Tx.IncidentGet(%+v) = %v, want ErrNotFound", ref, err)
		}
	}
}

func testNumbersIncrease(t *testing.T, s incident.Store) {
	for i := range 3 {
		inc := create(t, s, newIncident(fmt.Sprintf("inc-%d", i), "checkout", fmt.Sprintf("key-%d", i)))
		if want := int64(i + 1); inc.Number != want {
			t.Errorf("incident %d got number %d, want %d", i, inc.Number, want)
		}
	}
}

func testConcurrentNumbers(t *testing.T, s incident.Store) {
	ctx := t.Context()
	const creators = 8
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		numbers []int64
		errs    []error
	)
	for i := range creators {
		wg.Go(func() {
			inc := newIncident(fmt.Sprintf("inc-%d", i), "checkout", fmt.Sprintf("key-%d", i))
			var n int64
			err := s.InTx(ctx, func(tx incident.Tx) error {
				var err error
				n, err = tx.IncidentCreate(ctx, inc)
				return err
			})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			numbers = append(numbers, n)
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d creators failed: %v", len(errs), errors.Join(errs...))
	}
	slices.Sort(numbers)
	want := make([]int64, creators)
	for i := range want {
		want[i] = int64(i + 1)
	}
	if !slices.Equal(numbers, want) {
		t.Errorf("numbers = %v, want %v", numbers, want)
	}
	list, err := s.IncidentList(ctx, incident.ListFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != creators {
		t.Errorf("listed %d incidents, want %d", len(list), creators)
	}
}

// A second open incident of the same (service, dedup key) is refused with
// ErrConflict; the refusal changes nothing, does not use up a number and
// leaves the transaction usable.
func testDedupConflictInTx(t *testing.T, s incident.Store) {
	ctx := t.Context()
	var conflict error
	err := s.InTx(ctx, func(tx incident.Tx) error {
		if _, err := tx.IncidentCreate(ctx, newIncident("inc-a", "checkout", "disk")); err != nil {
			return err
		}
		_, conflict = tx.IncidentCreate(ctx, newIncident("inc-b", "checkout", "disk"))
		return nil
	})
	if err != nil {
		t.Fatalf("InTx: %v", err)
	}
	if !errors.Is(conflict, incident.ErrConflict) {
		t.Fatalf("second create = %v, want ErrConflict", conflict)
	}
	get(t, s, incident.Ref{ID: "inc-a"})
	if _, err := s.IncidentGet(ctx, incident.Ref{ID: "inc-b"}); !errors.Is(err, incident.ErrNotFound) {
		t.Errorf("refused incident: %v, want ErrNotFound", err)
	}
	// Same dedup key on another service is another incident.
	if inc := create(t, s, newIncident("inc-c", "billing", "disk")); inc.Number != 2 {
		t.Errorf("next number = %d, want 2 (the refused create gives its number back)", inc.Number)
	}
}

// When fn keeps failing with ErrConflict, InTx gives up after 5 attempts and
// returns it.
func testDedupConflictThroughInTx(t *testing.T, s incident.Store) {
	ctx := t.Context()
	create(t, s, newIncident("inc-a", "checkout", "disk"))
	attempts := 0
	err := s.InTx(ctx, func(tx incident.Tx) error {
		attempts++
		_, err := tx.IncidentCreate(ctx, newIncident("inc-b", "checkout", "disk"))
		return err
	})
	if !errors.Is(err, incident.ErrConflict) {
		t.Fatalf("InTx = %v, want ErrConflict", err)
	}
	if attempts != 5 {
		t.Errorf("fn ran %d times, want 5", attempts)
	}
}

// Racing writers (replicas) that each add an alert to the open incident of
// one dedup key, creating it when there is none, end with one incident that
// counts every alert: the losers of the create race get ErrConflict, the
// losers of an update race ErrVersionConflict, and InTx re-runs them. With 5
// writers a writer loses at most 4 times (each loss is another's commit), so
// InTx's 5 attempts suffice.
func testGetOrCreateRace(t *testing.T, s incident.Store) {
	ctx := t.Context()
	const writers = 5
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := range writers {
		wg.Go(func() {
			errs[i] = s.InTx(ctx, func(tx incident.Tx) error {
				inc, err := tx.IncidentOpenByDedup(ctx, "checkout", "disk")
				if errors.Is(err, incident.ErrNotFound) {
					_, err = tx.IncidentCreate(ctx, newIncident(fmt.Sprintf("inc-%d", i), "checkout", "disk"))
					return err
				}
				if err != nil {
					return err
				}
				from := inc.Version
				inc.Version++
				inc.AlertCount++
				return tx.IncidentUpdate(ctx, inc, from)
			})
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("writers failed: %v", err)
	}
	list, err := s.IncidentList(ctx, incident.ListFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 {
		t.Fatalf("%d incidents, want 1: %v", len(list), numbers(list))
	}
	if got := list[0]; got.Number != 1 || got.AlertCount != writers || got.Version != writers {
		t.Errorf("incident %d: alert count %d, version %d; want 1, %d, %d", got.Number, got.AlertCount, got.Version, writers, writers)
	}
}

func testResolvedFreesDedupKey(t *testing.T, s incident.Store) {
	ctx := t.Context()
	a := create(t, s, newIncident("inc-a", "checkout", "disk"))
	resolve(t, s, a)
	b := create(t, s, newIncident("inc-b", "checkout", "disk"))
	if b.Number != 2 {
		t.Errorf("number = %d, want 2", b.Number)
	}
	err := s.InTx(ctx, func(tx incident.Tx) error {
		got, err := tx.IncidentOpenByDedup(ctx, "checkout", "disk")
		if err != nil {
			return err
		}
		equalIncident(t, got, b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Reopening the resolved one while b is open would make two open
	// incidents of one dedup key.
	a = get(t, s, incident.Ref{ID: "inc-a"})
	a.Status, a.ResolvedAt, a.ResolvedBy = incident.StatusTriggered, nil, ""
	// Only a refused IncidentCreate leaves the transaction usable (PostgreSQL
	// aborts a transaction on any other failed statement), so fn returns the
	// error and InTx retries it until it gives up.
	err = s.InTx(ctx, func(tx incident.Tx) error {
		next := a
		next.Version++
		return tx.IncidentUpdate(ctx, next, a.Version)
	})
	if !errors.Is(err, incident.ErrConflict) {
		t.Errorf("reopen = %v, want ErrConflict", err)
	}
	if got := get(t, s, incident.Ref{ID: "inc-a"}); got.Status != incident.StatusResolved {
		t.Errorf("after refused reopen: status %s, want resolved", got.Status)
	}
}

func testOpenByDedupIgnoresResolved(t *testing.T, s incident.Store) {
	ctx := t.Context()
	a := create(t, s, newIncident("inc-a", "checkout", "disk"))
	create(t, s, newIncident("inc-b", "checkout", "cpu"))
	resolve(t, s, a)
	err := s.InTx(ctx, func(tx incident.Tx) error {
		_, err := tx.IncidentOpenByDedup(ctx, "checkout", "disk")
		return err
	})
	if !errors.Is(err, incident.ErrNotFound) {
		t.Errorf("open by dedup of resolved = %v, want ErrNotFound", err)
	}
	err = s.InTx(ctx, func(tx incident.Tx) error {
		got, err := tx.IncidentOpenByDedup(ctx, "checkout", "cpu")
		if err == nil && got.ID != "inc-b" {
			t.Errorf("open by dedup = %s, want inc-b", got.ID)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func testOptimisticUpdate(t *testing.T, s incident.Store) {
	ctx := t.Context()
	inc := create(t, s, newIncident("inc-a", "checkout", "disk"))

	acked := base.Add(time.Minute)
	inc.Status = incident.StatusAcknowledged
	inc.AcknowledgedAt = &acked
	inc.AcknowledgedBy = "U42"
	inc.AlertCount = 4
	inc.LastAlertAt = base.Add(30 * time.Second)
	inc.UpdatedAt = acked
	inc.Title = "disk really full"
	inc.Severity = "SEV1"
	inc.AlertSeverity = events.SeverityCritical
	inc = update(t, s, inc)
	equalIncident(t, get(t, s, incident.Ref{ID: "inc-a"}), inc)

	// A writer that read version 1 loses.
	stale := newIncident("inc-a", "checkout", "disk")
	stale.Number = inc.Number
	stale.Version = 2
	stale.Title = "stale"
	var conflict error
	err := s.InTx(ctx, func(tx incident.Tx) error {
		conflict = tx.IncidentUpdate(ctx, stale, 1)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(conflict, incident.ErrVersionConflict) {
		t.Fatalf("stale update = %v, want ErrVersionConflict", conflict)
	}
	equalIncident(t, get(t, s, incident.Ref{ID: "inc-a"}), inc)

	// An unknown incident has no version to match either.
	ghost := newIncident("ghost", "checkout", "x")
	ghost.Version = 2
	err = s.InTx(ctx, func(tx incident.Tx) error { return tx.IncidentUpdate(ctx, ghost, 1) })
	if !errors.Is(err, incident.ErrVersionConflict) {
		t.Errorf("update of unknown = %v, want ErrVersionConflict", err)
	}
}

func testUpdateMustAdvanceVersion(t *testing.T, s incident.Store) {
	ctx := t.Context()
	inc := create(t, s, newIncident("inc-a", "checkout", "disk"))
	inc.Title = "changed"
	err := s.InTx(ctx, func(tx incident.Tx) error { return tx.IncidentUpdate(ctx, inc, 1) }) // Version still 1
	if !errors.Is(err, incident.ErrInvalid) {
		t.Errorf("update to the same version = %v, want ErrInvalid", err)
	}
	if got := get(t, s, incident.Ref{ID: "inc-a"}); got.Title == "changed" || got.Version != 1 {
		t.Errorf("after refused update: title %q version %d", got.Title, got.Version)
	}
}

func testInTxRetries(t *testing.T, s incident.Store) {
	ctx := t.Context()
	tests := []struct {
		name string
		err  error
	}{
		{"VersionConflict", fmt.Errorf("wrapped: %w", incident.ErrVersionConflict)},
		{"Conflict", fmt.Errorf("wrapped: %w", incident.ErrConflict)},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			attempts := 0
			err := s.InTx(ctx, func(tx incident.Tx) error {
				attempts++
				if _, err := tx.IncidentCreate(ctx, newIncident(fmt.Sprintf("inc-%d-%d", i, attempts), "checkout", tc.name)); err != nil {
					return err
				}
				if attempts < 3 {
					return tc.err
				}
				return nil
			})
			if err != nil {
				t.Fatalf("InTx = %v, want success on attempt 3", err)
			}
			if attempts != 3 {
				t.Errorf("fn ran %d times, want 3", attempts)
			}
			// Only the last attempt's incident was committed.
			for a := 1; a <= 3; a++ {
				_, err := s.IncidentGet(ctx, incident.Ref{ID: fmt.Sprintf("inc-%d-%d", i, a)})
				if found := err == nil; found != (a == 3) {
					t.Errorf("incident of attempt %d: err %v", a, err)
				}
			}
		})
	}
}

func testInTxOtherErrors(t *testing.T, s incident.Store) {
	ctx := t.Context()
	wrapped := fmt.Errorf("handler: %w", errBoom)
	tests := []struct {
		name string
		err  error
	}{
		{"Plain", errBoom},
		{"Wrapped", wrapped},
		{"NotFound", incident.ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			attempts := 0
			err := s.InTx(ctx, func(tx incident.Tx) error {
				attempts++
				return tc.err
			})
			if err != tc.err {
				t.Errorf("InTx = %v, want %v unchanged", err, tc.err)
			}
			if attempts != 1 {
				t.Errorf("fn ran %d times, want 1", attempts)
			}
		})
	}
}

// A failing fn leaves nothing behind: no incident, no note, no outbox row,
// no inbox row, no used-up number.
func testRollback(t *testing.T, s incident.Store) {
	ctx := t.Context()
	err := s.InTx(ctx, func(tx incident.Tx) error {
		if _, err := tx.ServiceCreate(ctx, incident.TechService{Name: "checkout"}); err != nil {
			return err
		}
		if _, err := tx.IncidentCreate(ctx, newIncident("inc-a", "checkout", "disk")); err != nil {
			return err
		}
		if _, err := tx.NoteAdd(ctx, incident.Note{IncidentID: "inc-a", Text: "x", Author: events.System("incident")}); err != nil {
			return err
		}
		if err := tx.Emit(ctx, envelope(t, "inc-a")); err != nil {
			return err
		}
		if ok, err := tx.MarkProcessed(ctx, "incident", "msg-1"); err != nil || !ok {
			return fmt.Errorf("mark processed = %v, %v", ok, err)
		}
		return errBoom
	})
	if err != errBoom {
		t.Fatalf("InTx = %v, want errBoom", err)
	}
	if _, err := s.IncidentGet(ctx, incident.Ref{ID: "inc-a"}); !errors.Is(err, incident.ErrNotFound) {
		t.Errorf("incident after rollback: %v, want ErrNotFound", err)
	}
	if notes, err := s.NoteList(ctx, "inc-a"); err != nil || len(notes) != 0 {
		t.Errorf("notes after rollback: %v, %v", notes, err)
	}
	if n := outboxCount(t, s); n != 0 {
		t.Errorf("outbox rows after rollback: %d, want 0", n)
	}
	err = s.InTx(ctx, func(tx incident.Tx) error {
		if _, err := tx.ServiceGet(ctx, "checkout"); !errors.Is(err, incident.ErrNotFound) {
			t.Errorf("service after rollback: %v, want ErrNotFound", err)
		}
		ok, err := tx.MarkProcessed(ctx, "incident", "msg-1")
		if err == nil && !ok {
			t.Error("inbox row survived the rollback: MarkProcessed reports a repeat")
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if inc := create(t, s, newIncident("inc-b", "checkout", "disk")); inc.Number != 1 {
		t.Errorf("number after rollback = %d, want 1", inc.Number)
	}
}

func testMarkProcessed(t *testing.T, s incident.Store) {
	ctx := t.Context()
	steps := []struct {
		consumer, msgID string
		want            bool
	}{
		{"incident", "msg-1", true},
		{"incident", "msg-1", false},
		{"incident", "msg-2", true},
		{"other", "msg-1", true},
		{"other", "msg-1", false},
	}
	for _, st := range steps {
		var got bool
		err := s.InTx(ctx, func(tx incident.Tx) error {
			var err error
			got, err = tx.MarkProcessed(ctx, st.consumer, st.msgID)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if got != st.want {
			t.Errorf("MarkProcessed(%s, %s) = %v, want %v", st.consumer, st.msgID, got, st.want)
		}
	}
	// Within one transaction the second call already sees the first.
	err := s.InTx(ctx, func(tx incident.Tx) error {
		first, err := tx.MarkProcessed(ctx, "incident", "msg-3")
		if err != nil {
			return err
		}
		second, err := tx.MarkProcessed(ctx, "incident", "msg-3")
		if !first || second {
			t.Errorf("same tx: MarkProcessed = %v then %v, want true then false", first, second)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func testEmit(t *testing.T, s incident.Store) {
	ctx := t.Context()
	err := s.InTx(ctx, func(tx incident.Tx) error {
		if err := tx.Emit(ctx, envelope(t, "inc-a"), envelope(t, "inc-b")); err != nil {
			return err
		}
		if err := tx.Emit(ctx); err != nil { // nothing to emit is fine
			return err
		}
		// Another connection must not see uncommitted rows.
		if n := outboxCount(t, s); n != 0 {
			t.Errorf("outbox rows visible before commit: %d", n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := outboxCount(t, s); n != 2 {
		t.Errorf("outbox rows after commit = %d, want 2", n)
	}
	// An invalid envelope is refused and fails the transaction.
	err = s.InTx(ctx, func(tx incident.Tx) error {
		if err := tx.Emit(ctx, envelope(t, "inc-c")); err != nil {
			return err
		}
		return tx.Emit(ctx, events.Envelope{Type: events.TypeIncidentTriggered})
	})
	if !errors.Is(err, events.ErrInvalidEnvelope) {
		t.Errorf("emit invalid = %v, want ErrInvalidEnvelope", err)
	}
	if n := outboxCount(t, s); n != 2 {
		t.Errorf("outbox rows after failed emit = %d, want 2", n)
	}
}

func testNotes(t *testing.T, s incident.Store) {
	ctx := t.Context()
	create(t, s, newIncident("inc-a", "checkout", "disk"))
	create(t, s, newIncident("inc-b", "checkout", "cpu"))
	want := []incident.Note{
		{IncidentID: "inc-a", Text: "looking", CreatedAt: base.Add(3 * time.Second),
			Author: events.Actor{Kind: events.ActorUser, ID: "U1", Name: "Ada", Channel: events.ChannelSlack}},
		{IncidentID: "inc-b", Text: "other incident", CreatedAt: base.Add(4 * time.Second),
			Author: events.Actor{Kind: events.ActorUser, ID: "U2", Channel: events.ChannelCLI}},
		{IncidentID: "inc-a", Text: "restarted the pod\nsecond line, ünïcode", CreatedAt: base.Add(2 * time.Second), // older time, later note
			Author: events.System("incident")},
		{IncidentID: "inc-a", Text: "from the API", CreatedAt: base.Add(5 * time.Second),
			Author: events.Actor{Kind: events.ActorIntegration, ID: "grafana", Name: "Grafana", Channel: events.ChannelAPI}},
	}
	var lastID int64
	err := s.InTx(ctx, func(tx incident.Tx) error {
		lastID = 0
		for i := range want {
			id, err := tx.NoteAdd(ctx, want[i])
			if err != nil {
				return err
			}
			if id <= lastID {
				t.Errorf("note ids not increasing: %d after %d", id, lastID)
			}
			want[i].ID, lastID = id, id
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		incident string
		want     []incident.Note
	}{
		{"inc-a", []incident.Note{want[0], want[2], want[3]}},
		{"inc-b", []incident.Note{want[1]}},
		{"inc-none", nil},
	}
	for _, tc := range tests {
		got, err := s.NoteList(ctx, tc.incident)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(tc.want) {
			t.Fatalf("%s: %d notes, want %d: %+v", tc.incident, len(got), len(tc.want), got)
		}
		for i := range got {
			if !got[i].CreatedAt.Equal(tc.want[i].CreatedAt) || got[i].CreatedAt.Location() != time.UTC {
				t.Errorf("%s note %d: created %v, want %v in UTC", tc.incident, i, got[i].CreatedAt, tc.want[i].CreatedAt)
			}
			g, w := got[i], tc.want[i]
			g.CreatedAt, w.CreatedAt = time.Time{}, time.Time{}
			if !reflect.DeepEqual(g, w) {
				t.Errorf("%s note %d:\n got %+v\nwant %+v", tc.incident, i, g, w)
			}
		}
	}
}

func testNoteUnknownIncident(t *testing.T, s incident.Store) {
	ctx := t.Context()
	err := s.InTx(ctx, func(tx incident.Tx) error {
		_, err := tx.NoteAdd(ctx, incident.Note{IncidentID: "nope", Text: "x", Author: events.System("incident")})
		return err
	})
	if !errors.Is(err, incident.ErrNotFound) {
		t.Errorf("note on unknown incident = %v, want ErrNotFound", err)
	}
}

// listFixture creates, by number:
//
//	1 checkout triggered   2 billing  acknowledged   3 checkout resolved
//	4 billing  triggered   5 checkout acknowledged   6 checkout triggered
//	7 billing  resolved
func listFixture(t *testing.T, s incident.Store) {
	t.Helper()
	rows := []struct {
		service string
		status  incident.Status
	}{
		{"checkout", incident.StatusTriggered},
		{"billing", incident.StatusAcknowledged},
		{"checkout", incident.StatusResolved},
		{"billing", incident.StatusTriggered},
		{"checkout", incident.StatusAcknowledged},
		{"checkout", incident.StatusTriggered},
		{"billing", incident.StatusResolved},
	}
	ctx := t.Context()
	err := s.InTx(ctx, func(tx incident.Tx) error {
		for i, r := range rows {
			inc := newIncident(fmt.Sprintf("inc-%d", i+1), r.service, fmt.Sprintf("key-%d", i+1))
			inc.Status = r.status
			if r.status == incident.StatusResolved {
				inc.ResolvedAt, inc.ResolvedBy = &base, "U1"
			}
			n, err := tx.IncidentCreate(ctx, inc)
			if err != nil {
				return err
			}
			if n != int64(i+1) {
				return fmt.Errorf("fixture incident %d got number %d", i+1, n)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func numbers(list []incident.Incident) []int64 {
	out := make([]int64, len(list))
	for i, inc := range list {
		out[i] = inc.Number
	}
	return out
}

func testList(t *testing.T, s incident.Store) {
	listFixture(t, s)
	tr, ack, res := incident.StatusTriggered, incident.StatusAcknowledged, incident.StatusResolved
	tests := []struct {
		name   string
		filter incident.ListFilter
		want   []int64
	}{
		{"All", incident.ListFilter{Limit: 50}, []int64{7, 6, 5, 4, 3, 2, 1}},
		{"ZeroLimitMeansDefault", incident.ListFilter{}, []int64{7, 6, 5, 4, 3, 2, 1}},
		{"Limit", incident.ListFilter{Limit: 2}, []int64{7, 6}},
		{"Triggered", incident.ListFilter{Statuses: []incident.Status{tr}, Limit: 50}, []int64{6, 4, 1}},
		{"Open", incident.ListFilter{Statuses: []incident.Status{tr, ack}, Limit: 50}, []int64{6, 5, 4, 2, 1}},
		{"AllStatuses", incident.ListFilter{Statuses: []incident.Status{res, ack, tr}, Limit: 50}, []int64{7, 6, 5, 4, 3, 2, 1}},
		{"Service", incident.ListFilter{Service: "billing", Limit: 50}, []int64{7, 4, 2}},
		{"ServiceAndStatus", incident.ListFilter{Service: "checkout", Statuses: []incident.Status{tr, ack}, Limit: 50}, []int64{6, 5, 1}},
		{"ServiceStatusLimit", incident.ListFilter{Service: "checkout", Statuses: []incident.Status{tr}, Limit: 1}, []int64{6}},
		{"After", incident.ListFilter{AfterNumber: 5, Limit: 50}, []int64{4, 3, 2, 1}},
		{"AfterWithFilters", incident.ListFilter{AfterNumber: 6, Service: "checkout", Statuses: []incident.Status{tr}, Limit: 50}, []int64{1}},
		{"AfterLast", incident.ListFilter{AfterNumber: 1, Limit: 50}, nil},
		{"UnknownService", incident.ListFilter{Service: "nope", Limit: 50}, nil},
		{"UnknownStatus", incident.ListFilter{Statuses: []incident.Status{"snoozed"}, Limit: 50}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.IncidentList(t.Context(), tc.filter)
			if err != nil {
				t.Fatal(err)
			}
			if g := numbers(got); !slices.Equal(g, tc.want) {
				t.Errorf("IncidentList(%+v) = %v, want %v", tc.filter, g, tc.want)
			}
		})
	}
	got, err := s.IncidentList(t.Context(), incident.ListFilter{Service: "billing", Statuses: []incident.Status{ack}, Limit: 1})
	if err != nil || len(got) != 1 {
		t.Fatalf("list: %v, %v", got, err)
	}
	want := newIncident("inc-2", "billing", "key-2")
	want.Number, want.Status = 2, ack
	equalIncident(t, got[0], want)
}

func testListPaging(t *testing.T, s incident.Store) {
	listFixture(t, s)
	tests := []struct {
		name   string
		filter incident.ListFilter
		pages  [][]int64
	}{
		{"All", incident.ListFilter{Limit: 3}, [][]int64{{7, 6, 5}, {4, 3, 2}, {1}}},
		{"Open", incident.ListFilter{Limit: 2, Statuses: []incident.Status{incident.StatusTriggered, incident.StatusAcknowledged}},
			[][]int64{{6, 5}, {4, 2}, {1}}},
		{"ExactPages", incident.ListFilter{Limit: 2, Service: "checkout"}, [][]int64{{6, 5}, {3, 1}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.filter
			var pages [][]int64
			for range 10 {
				got, err := s.IncidentList(t.Context(), f)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) == 0 {
					break
				}
				pages = append(pages, numbers(got))
				f.AfterNumber = got[len(got)-1].Number
			}
			if !reflect.DeepEqual(pages, tc.pages) {
				t.Errorf("pages = %v, want %v", pages, tc.pages)
			}
		})
	}
}

func testTimes(t *testing.T, s incident.Store) {
	zone := time.FixedZone("UTC+5:30", 5*3600+1800)
	created := time.Date(2026, 1, 2, 3, 4, 5, 123456000, zone)
	acked := created.Add(1500 * time.Microsecond)
	resolved := created.Add(time.Hour + 999999*time.Microsecond)
	inc := newIncident("inc-a", "checkout", "disk")
	inc.CreatedAt = created
	inc.UpdatedAt = created.Add(time.Microsecond)
	inc.LastAlertAt = created.In(time.Local).Add(2 * time.Microsecond)
	inc.Status = incident.StatusResolved
	inc.AcknowledgedAt, inc.ResolvedAt = &acked, &resolved
	inc = create(t, s, inc)

	got := get(t, s, incident.Ref{ID: "inc-a"})
	equalIncident(t, got, inc)
	if !got.CreatedAt.Equal(created) || got.CreatedAt.Nanosecond() != 123456000 {
		t.Errorf("created at = %v, want %v", got.CreatedAt, created.UTC())
	}
	if got.AcknowledgedAt == nil || !got.AcknowledgedAt.Equal(acked) {
		t.Errorf("acknowledged at = %v, want %v", got.AcknowledgedAt, acked.UTC())
	}

	// Finer than a microsecond may be cut, never more.
	fine := newIncident("inc-b", "checkout", "cpu")
	fine.CreatedAt = base.Add(789 * time.Nanosecond)
	create(t, s, fine)
	got = get(t, s, incident.Ref{ID: "inc-b"})
	if d := fine.CreatedAt.Sub(got.CreatedAt); d < 0 || d >= time.Microsecond {
		t.Errorf("nanosecond time stored as %v, want within 1µs below %v", got.CreatedAt, fine.CreatedAt)
	}

	// Zero times are filled with the store's clock.
	before := time.Now().Add(-time.Second)
	zero := newIncident("inc-c", "checkout", "mem")
	zero.CreatedAt, zero.UpdatedAt, zero.LastAlertAt = time.Time{}, time.Time{}, time.Time{}
	create(t, s, zero)
	got = get(t, s, incident.Ref{ID: "inc-c"})
	for _, tm := range []time.Time{got.CreatedAt, got.UpdatedAt, got.LastAlertAt} {
		if tm.Before(before) {
			t.Errorf("zero time stored as %v, want the store's now", tm)
		}
	}

	// Clearing nullable times round-trips as nil.
	inc = get(t, s, incident.Ref{ID: "inc-a"})
	inc.AcknowledgedAt, inc.ResolvedAt, inc.Status = nil, nil, incident.StatusTriggered
	inc = update(t, s, inc)
	got = get(t, s, incident.Ref{ID: "inc-a"})
	if got.AcknowledgedAt != nil || got.ResolvedAt != nil {
		t.Errorf("cleared times = %v, %v, want nil", got.AcknowledgedAt, got.ResolvedAt)
	}
	equalIncident(t, got, inc)
}

func testServiceCreate(t *testing.T, s incident.Store) {
	ctx := t.Context()
	created := base.Add(-time.Hour)
	var first, second, generated incident.TechService
	err := s.InTx(ctx, func(tx incident.Tx) error {
		var err error
		if first, err = tx.ServiceCreate(ctx, incident.TechService{ID: "svc-1", Name: "checkout", Description: "the shop", CreatedAt: created}); err != nil {
			return err
		}
		if generated, err = tx.ServiceCreate(ctx, incident.TechService{Name: "billing"}); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := incident.TechService{ID: "svc-1", Name: "checkout", Description: "the shop", CreatedAt: created}
	equalService(t, first, want)
	if generated.ID == "" || generated.CreatedAt.IsZero() {
		t.Errorf("create without id and time = %+v, want both filled", generated)
	}
	// Creating the name again, in a later transaction, returns the first.
	err = s.InTx(ctx, func(tx incident.Tx) error {
		var err error
		second, err = tx.ServiceCreate(ctx, incident.TechService{ID: "svc-2", Name: "checkout", Description: "other", CreatedAt: base})
		if err != nil {
			return err
		}
		got, err := tx.ServiceGet(ctx, "checkout")
		if err == nil {
			equalService(t, got, want)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	equalService(t, second, want)
}

func equalService(t *testing.T, got, want incident.TechService) {
	t.Helper()
	if !got.CreatedAt.Equal(want.CreatedAt) || got.CreatedAt.Location() != time.UTC {
		t.Errorf("service %s created at %v, want %v in UTC", got.Name, got.CreatedAt, want.CreatedAt)
	}
	got.CreatedAt, want.CreatedAt = time.Time{}, time.Time{}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("service = %+v, want %+v", got, want)
	}
}

func testServiceGetUnknown(t *testing.T, s incident.Store) {
	ctx := t.Context()
	err := s.InTx(ctx, func(tx incident.Tx) error {
		_, err := tx.ServiceGet(ctx, "nope")
		return err
	})
	if !errors.Is(err, incident.ErrNotFound) {
		t.Errorf("ServiceGet(unknown) = %v, want ErrNotFound", err)
	}
}
