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
	"strings"
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
		{"LifecycleFieldsRoundTrip", testLifecycleFields},
		{"UpdateKeepsOrigin", testUpdateKeepsOrigin},
		{"OpenDedupByStatus", testOpenDedupByStatus},
		{"FreedKeyAllowsLaterStates", testFreedKeyLaterStates},
		{"Actions", testActions},
		{"ActionOnUnknownIncident", testActionUnknownIncident},
		{"Responders", testResponders},
		{"ResponderOnUnknownIncident", testResponderUnknownIncident},
		{"ServiceSettingsRoundTrip", testServiceSettings},
		{"ServiceSeverityMapEmpty", testServiceSeverityMapEmpty},
		{"ServiceUpdate", testServiceUpdate},
		{"ServiceUpdateUnknown", testServiceUpdateUnknown},
		{"ServiceList", testServiceList},
	}
	tests = append(tests, alertTests...)
	tests = append(tests, groupTests...)
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

// equalIncident compares every field of incident.Incident (a field added
// later is compared too); times must be the same instant and, in got, in UTC.
func equalIncident(t *testing.T, got, want incident.Incident) {
	t.Helper()
	g, w := reflect.ValueOf(got), reflect.ValueOf(want)
	for i := range g.NumField() {
		name := g.Type().Field(i).Name
		gs, gloc := fieldString(g.Field(i))
		ws, _ := fieldString(w.Field(i))
		if gloc != nil && gloc != time.UTC {
			t.Errorf("%s %s: location %v, want UTC", got.ID, name, gloc)
		}
		if gs != ws {
			t.Errorf("incident %s %s = %s, want %s", want.ID, name, gs, ws)
		}
	}
}

// fieldString renders a field for equalIncident: times (plain or pointer)
// as the UTC instant, with their location; anything else with %#v.
func fieldString(v reflect.Value) (string, *time.Location) {
	switch tm := v.Interface().(type) {
	case time.Time:
		return tm.UTC().Format(time.RFC3339Nano), tm.Location()
	case *time.Time:
		if tm == nil {
			return "<nil>", nil
		}
		return tm.UTC().Format(time.RFC3339Nano), tm.Location()
	}
	return fmt.Sprintf("%#v", v.Interface()), nil
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

// A failing fn leaves nothing behind: no service, incident, note, action or
// responder, no outbox row, no inbox row, no used-up number.
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
		if _, err := tx.ActionAdd(ctx, incident.Action{IncidentID: "inc-a", Kind: incident.ActionContainment, Text: "x", Actor: events.System("incident")}); err != nil {
			return err
		}
		if _, err := tx.ResponderAdd(ctx, incident.Responder{IncidentID: "inc-a", User: "U1", AddedBy: events.System("incident")}); err != nil {
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
	if actions, err := s.ActionList(ctx, "inc-a"); err != nil || len(actions) != 0 {
		t.Errorf("actions after rollback: %v, %v", actions, err)
	}
	if responders, err := s.ResponderList(ctx, "inc-a"); err != nil || len(responders) != 0 {
		t.Errorf("responders after rollback: %v, %v", responders, err)
	}
	if services, err := s.ServiceList(ctx); err != nil || len(services) != 0 {
		t.Errorf("services after rollback: %v, %v", services, err)
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

// listFixture creates, by number (service, status, assignee):
//
//	1 checkout triggered    U1   2 billing  acknowledged -    3 checkout resolved U1
//	4 billing  triggered    U2   5 checkout acknowledged U1   6 checkout triggered -
//	7 billing  resolved     U2
func listFixture(t *testing.T, s incident.Store) {
	t.Helper()
	rows := []struct {
		service  string
		status   incident.Status
		assignee string
	}{
		{"checkout", incident.StatusTriggered, "U1"},
		{"billing", incident.StatusAcknowledged, ""},
		{"checkout", incident.StatusResolved, "U1"},
		{"billing", incident.StatusTriggered, "U2"},
		{"checkout", incident.StatusAcknowledged, "U1"},
		{"checkout", incident.StatusTriggered, ""},
		{"billing", incident.StatusResolved, "U2"},
	}
	ctx := t.Context()
	err := s.InTx(ctx, func(tx incident.Tx) error {
		for i, r := range rows {
			inc := newIncident(fmt.Sprintf("inc-%d", i+1), r.service, fmt.Sprintf("key-%d", i+1))
			inc.Status, inc.Assignee = r.status, r.assignee
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
		{"Assignee", incident.ListFilter{Assignee: "U1", Limit: 50}, []int64{5, 3, 1}},
		{"AssigneeAndStatus", incident.ListFilter{Assignee: "U1", Statuses: []incident.Status{tr, ack}, Limit: 50}, []int64{5, 1}},
		{"AssigneeAndService", incident.ListFilter{Assignee: "U2", Service: "billing", Limit: 50}, []int64{7, 4}},
		{"AssigneeServiceStatus", incident.ListFilter{Assignee: "U2", Service: "billing", Statuses: []incident.Status{tr}, Limit: 50}, []int64{4}},
		{"AssigneeOtherService", incident.ListFilter{Assignee: "U1", Service: "billing", Limit: 50}, nil},
		{"AssigneeAfter", incident.ListFilter{Assignee: "U1", AfterNumber: 5, Limit: 50}, []int64{3, 1}},
		{"UnknownAssignee", incident.ListFilter{Assignee: "nobody", Limit: 50}, nil},
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
		{"Assignee", incident.ListFilter{Limit: 2, Assignee: "U1"}, [][]int64{{5, 3}, {1}}},
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

// at returns a pointer to base+d, in a zone other than UTC so the store must
// normalize it.
func at(d time.Duration) *time.Time {
	tm := base.Add(d).In(time.FixedZone("UTC-3", -3*3600))
	return &tm
}

// lifecycleIncident returns newIncident with every lifecycle field set.
func lifecycleIncident(id, service, dedupKey string) incident.Incident {
	inc := newIncident(id, service, dedupKey)
	inc.Status = incident.StatusMitigated
	inc.AcknowledgedAt, inc.AcknowledgedBy = at(time.Minute), "U42"
	inc.Summary = "checkout pods evicted\nsecond line, ünïcode"
	inc.Origin = incident.OriginDeclared
	inc.Assignee = "U7"
	inc.EscalationLevel = 3
	inc.SnoozedUntil = at(2 * time.Hour)
	inc.MergedInto = "inc-parent"
	inc.ContainedAt = at(2 * time.Minute)
	inc.MitigatedAt = at(3*time.Minute + time.Microsecond)
	inc.ClosedAt = at(4 * time.Minute)
	inc.PostmortemPublishedAt = at(5 * time.Minute)
	inc.ReopenCount = 2
	return inc
}

// Every lifecycle field round-trips through create, update, the gets and the
// list; nil times stay nil and set ones can be cleared.
func testLifecycleFields(t *testing.T, s incident.Store) {
	ctx := t.Context()
	full := create(t, s, lifecycleIncident("inc-a", "checkout", "disk"))
	bare := newIncident("inc-b", "checkout", "cpu")
	bare.Origin = incident.OriginAlert
	bare = create(t, s, bare)

	read := func(t *testing.T, want incident.Incident) {
		t.Helper()
		equalIncident(t, get(t, s, incident.Ref{ID: want.ID}), want)
		equalIncident(t, get(t, s, incident.Ref{Number: want.Number}), want)
		list, err := s.IncidentList(ctx, incident.ListFilter{AfterNumber: want.Number + 1, Limit: 1})
		if err != nil || len(list) != 1 {
			t.Fatalf("list %s: %v, %v", want.ID, numbers(list), err)
		}
		equalIncident(t, list[0], want)
		err = s.InTx(ctx, func(tx incident.Tx) error {
			got, err := tx.IncidentGet(ctx, incident.Ref{ID: want.ID})
			if err != nil {
				return err
			}
			equalIncident(t, got, want)
			if !want.Status.Open() {
				return nil
			}
			got, err = tx.IncidentOpenByDedup(ctx, want.Service, want.DedupKey)
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
	t.Run("CreateSet", func(t *testing.T) { read(t, full) })
	t.Run("CreateUnset", func(t *testing.T) { read(t, bare) })

	// An update writes every mutable field: set the bare one's, clear the
	// full one's.
	t.Run("UpdateSet", func(t *testing.T) {
		next := lifecycleIncident("inc-b", "checkout", "cpu")
		next.Number, next.Version, next.Origin = bare.Number, bare.Version, bare.Origin
		next.Title, next.Severity, next.AlertSeverity = "cpu pegged", "SEV1", events.SeverityCritical
		next.AlertCount, next.UpdatedAt, next.LastAlertAt = 9, base.Add(time.Hour), base.Add(50*time.Minute)
		next.ResolvedAt, next.ResolvedBy = at(6*time.Minute), "U9"
		read(t, update(t, s, next))
	})
	t.Run("UpdateClear", func(t *testing.T) {
		next := full
		next.Status = incident.StatusTriggered
		next.AcknowledgedAt, next.AcknowledgedBy = nil, ""
		next.Summary, next.Assignee, next.EscalationLevel, next.MergedInto, next.ReopenCount = "", "", 0, "", 0
		next.SnoozedUntil, next.ContainedAt, next.MitigatedAt, next.ClosedAt, next.PostmortemPublishedAt = nil, nil, nil, nil, nil
		read(t, update(t, s, next))
	})
}

// Origin says how an incident started; IncidentUpdate does not change it
// (nor id, number, service, dedup key or creation time).
func testUpdateKeepsOrigin(t *testing.T, s incident.Store) {
	inc := newIncident("inc-a", "checkout", "disk")
	inc.Origin = incident.OriginAlert
	inc = create(t, s, inc)
	next := inc
	next.Origin, next.Service, next.DedupKey, next.CreatedAt = incident.OriginDeclared, "billing", "other", base.Add(time.Hour)
	next = update(t, s, next)
	want := inc
	want.Version = next.Version
	equalIncident(t, get(t, s, incident.Ref{ID: "inc-a"}), want)
}

// Every open status holds its (service, dedup key): a second incident is
// refused and IncidentOpenByDedup finds the first. Resolved, postmortem and
// closed free the key.
func testOpenDedupByStatus(t *testing.T, s incident.Store) {
	ctx := t.Context()
	tests := []struct {
		status incident.Status
		blocks bool
	}{
		{incident.StatusTriggered, true},
		{incident.StatusEscalated, true},
		{incident.StatusAcknowledged, true},
		{incident.StatusContained, true},
		{incident.StatusMitigated, true},
		{incident.StatusResolved, false},
		{incident.StatusPostmortem, false},
		{incident.StatusClosed, false},
	}
	if len(tests) != len(incident.Statuses) {
		t.Fatalf("table covers %d statuses, the domain has %d", len(tests), len(incident.Statuses))
	}
	for _, tc := range tests {
		t.Run(string(tc.status), func(t *testing.T) {
			if tc.status.Open() != tc.blocks {
				t.Fatalf("%s: Open() = %v, but the store treats it as open = %v", tc.status, tc.status.Open(), tc.blocks)
			}
			key := "key-" + string(tc.status)
			first := newIncident("first-"+string(tc.status), "checkout", key)
			first.Status = tc.status
			create(t, s, first)

			var found incident.Incident
			err := s.InTx(ctx, func(tx incident.Tx) error {
				var err error
				found, err = tx.IncidentOpenByDedup(ctx, "checkout", key)
				return err
			})
			switch {
			case tc.blocks && (err != nil || found.ID != first.ID):
				t.Errorf("open by dedup = %q, %v; want %s", found.ID, err, first.ID)
			case !tc.blocks && !errors.Is(err, incident.ErrNotFound):
				t.Errorf("open by dedup = %q, %v; want ErrNotFound", found.ID, err)
			}

			var second error
			err = s.InTx(ctx, func(tx incident.Tx) error {
				_, second = tx.IncidentCreate(ctx, newIncident("second-"+string(tc.status), "checkout", key))
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if tc.blocks && !errors.Is(second, incident.ErrConflict) {
				t.Errorf("second create = %v, want ErrConflict", second)
			}
			if !tc.blocks && second != nil {
				t.Errorf("second create = %v, want success", second)
			}
		})
	}
}

// A resolved incident whose key a new incident took can still move on to
// postmortem and closed.
func testFreedKeyLaterStates(t *testing.T, s incident.Store) {
	a := resolve(t, s, create(t, s, newIncident("inc-a", "checkout", "disk")))
	create(t, s, newIncident("inc-b", "checkout", "disk"))
	a.Status, a.PostmortemPublishedAt = incident.StatusPostmortem, at(2*time.Hour)
	a = update(t, s, a)
	a.Status, a.ClosedAt = incident.StatusClosed, at(3*time.Hour)
	a = update(t, s, a)
	equalIncident(t, get(t, s, incident.Ref{ID: "inc-a"}), a)
}

func testActions(t *testing.T, s incident.Store) {
	ctx := t.Context()
	create(t, s, newIncident("inc-a", "checkout", "disk"))
	create(t, s, newIncident("inc-b", "checkout", "cpu"))
	want := []incident.Action{
		{IncidentID: "inc-a", Kind: incident.ActionContainment, Text: "blocked the attacker's IP", CreatedAt: base.Add(3 * time.Second),
			Actor: events.Actor{Kind: events.ActorUser, ID: "U1", Name: "Ada", Channel: events.ChannelSlack}},
		{IncidentID: "inc-b", Kind: incident.ActionMitigation, Text: "other incident", CreatedAt: base.Add(4 * time.Second),
			Actor: events.Actor{Kind: events.ActorUser, ID: "U2", Channel: events.ChannelCLI}},
		{IncidentID: "inc-a", Kind: incident.ActionMitigation, Text: "rotated keys\nsecond line, ünïcode", CreatedAt: base.Add(2 * time.Second), // older time, later action
			Actor: events.System("incident")},
		{IncidentID: "inc-a", Kind: incident.ActionMitigation, Text: "from the API", CreatedAt: base.Add(5 * time.Second),
			Actor: events.Actor{Kind: events.ActorIntegration, ID: "grafana", Name: "Grafana", Channel: events.ChannelAPI}},
	}
	err := s.InTx(ctx, func(tx incident.Tx) error {
		var lastID int64
		for i := range want {
			id, err := tx.ActionAdd(ctx, want[i])
			if err != nil {
				return err
			}
			if id <= lastID {
				t.Errorf("action ids not increasing: %d after %d", id, lastID)
			}
			want[i].ID, lastID = id, id
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// A zero time gets the store's clock.
	before := time.Now().Add(-time.Second)
	err = s.InTx(ctx, func(tx incident.Tx) error {
		_, err := tx.ActionAdd(ctx, incident.Action{IncidentID: "inc-b", Kind: incident.ActionContainment, Text: "now", Actor: events.System("incident")})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		incident string
		want     []incident.Action
	}{
		{"inc-a", []incident.Action{want[0], want[2], want[3]}},
		{"inc-b", []incident.Action{want[1], {}}},
		{"inc-none", nil},
	}
	for _, tc := range tests {
		got, err := s.ActionList(ctx, tc.incident)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(tc.want) {
			t.Fatalf("%s: %d actions, want %d: %+v", tc.incident, len(got), len(tc.want), got)
		}
		for i := range got {
			g, w := got[i], tc.want[i]
			if g.CreatedAt.Location() != time.UTC {
				t.Errorf("%s action %d: created %v, want UTC", tc.incident, i, g.CreatedAt)
			}
			if w.IncidentID == "" { // the one stamped by the store
				if g.CreatedAt.Before(before) || g.Text != "now" {
					t.Errorf("%s action %d = %+v, want text now, created by the store's clock", tc.incident, i, g)
				}
				continue
			}
			if !g.CreatedAt.Equal(w.CreatedAt) {
				t.Errorf("%s action %d: created %v, want %v", tc.incident, i, g.CreatedAt, w.CreatedAt)
			}
			g.CreatedAt, w.CreatedAt = time.Time{}, time.Time{}
			if !reflect.DeepEqual(g, w) {
				t.Errorf("%s action %d:\n got %+v\nwant %+v", tc.incident, i, g, w)
			}
		}
	}
}

func testActionUnknownIncident(t *testing.T, s incident.Store) {
	ctx := t.Context()
	err := s.InTx(ctx, func(tx incident.Tx) error {
		_, err := tx.ActionAdd(ctx, incident.Action{IncidentID: "nope", Kind: incident.ActionContainment, Text: "x", Actor: events.System("incident")})
		return err
	})
	if !errors.Is(err, incident.ErrNotFound) {
		t.Errorf("action on unknown incident = %v, want ErrNotFound", err)
	}
}

func testResponders(t *testing.T, s incident.Store) {
	ctx := t.Context()
	create(t, s, newIncident("inc-a", "checkout", "disk"))
	create(t, s, newIncident("inc-b", "checkout", "cpu"))
	ada := events.Actor{Kind: events.ActorUser, ID: "U1", Name: "Ada", Channel: events.ChannelSlack}
	steps := []struct {
		r     incident.Responder
		added bool
	}{
		{incident.Responder{IncidentID: "inc-a", User: "U2", AddedBy: ada, AddedAt: base.Add(5 * time.Second)}, true},
		// An older time, added later: the list keeps the order added.
		{incident.Responder{IncidentID: "inc-a", User: "U1", AddedBy: events.System("incident"), AddedAt: base.Add(time.Second)}, true},
		{incident.Responder{IncidentID: "inc-b", User: "U2", AddedBy: events.Actor{Kind: events.ActorUser, ID: "U3", Channel: events.ChannelCLI}, AddedAt: base}, true},
		// Again: refused, and the first addition stays as it was.
		{incident.Responder{IncidentID: "inc-a", User: "U2", AddedBy: events.System("other"), AddedAt: base.Add(time.Hour)}, false},
		{incident.Responder{IncidentID: "inc-a", User: "U0", AddedBy: events.Actor{Kind: events.ActorIntegration, ID: "pagerduty", Channel: events.ChannelAPI}, AddedAt: base.Add(2 * time.Second)}, true},
	}
	for i, st := range steps {
		var added bool
		err := s.InTx(ctx, func(tx incident.Tx) error {
			var err error
			added, err = tx.ResponderAdd(ctx, st.r)
			return err
		})
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if added != st.added {
			t.Errorf("step %d: ResponderAdd(%s, %s) = %v, want %v", i, st.r.IncidentID, st.r.User, added, st.added)
		}
	}
	// Within one transaction the second add already sees the first.
	err := s.InTx(ctx, func(tx incident.Tx) error {
		r := incident.Responder{IncidentID: "inc-b", User: "U9", AddedBy: ada}
		first, err := tx.ResponderAdd(ctx, r)
		if err != nil {
			return err
		}
		second, err := tx.ResponderAdd(ctx, r)
		if !first || second {
			t.Errorf("same tx: ResponderAdd = %v then %v, want true then false", first, second)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		incident string
		want     []incident.Responder
	}{
		{"inc-a", []incident.Responder{steps[0].r, steps[1].r, steps[4].r}},
		{"inc-b", []incident.Responder{steps[2].r, {IncidentID: "inc-b", User: "U9", AddedBy: ada}}},
		{"inc-none", nil},
	}
	before := time.Now().Add(-time.Minute)
	for _, tc := range tests {
		got, err := s.ResponderList(ctx, tc.incident)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(tc.want) {
			t.Fatalf("%s: %d responders, want %d: %+v", tc.incident, len(got), len(tc.want), got)
		}
		for i := range got {
			g, w := got[i], tc.want[i]
			if g.AddedAt.Location() != time.UTC {
				t.Errorf("%s responder %d: added %v, want UTC", tc.incident, i, g.AddedAt)
			}
			switch {
			case w.AddedAt.IsZero() && g.AddedAt.Before(before):
				t.Errorf("%s responder %d: added %v, want the store's clock", tc.incident, i, g.AddedAt)
			case !w.AddedAt.IsZero() && !g.AddedAt.Equal(w.AddedAt):
				t.Errorf("%s responder %d: added %v, want %v", tc.incident, i, g.AddedAt, w.AddedAt)
			}
			g.AddedAt, w.AddedAt = time.Time{}, time.Time{}
			if !reflect.DeepEqual(g, w) {
				t.Errorf("%s responder %d:\n got %+v\nwant %+v", tc.incident, i, g, w)
			}
		}
	}
}

func testResponderUnknownIncident(t *testing.T, s incident.Store) {
	ctx := t.Context()
	err := s.InTx(ctx, func(tx incident.Tx) error {
		_, err := tx.ResponderAdd(ctx, incident.Responder{IncidentID: "nope", User: "U1", AddedBy: events.System("incident")})
		return err
	})
	if !errors.Is(err, incident.ErrNotFound) {
		t.Errorf("responder on unknown incident = %v, want ErrNotFound", err)
	}
}

// createService creates s in its own transaction and returns it as stored.
func createService(t *testing.T, st incident.Store, s incident.TechService) incident.TechService {
	t.Helper()
	ctx := t.Context()
	var got incident.TechService
	err := st.InTx(ctx, func(tx incident.Tx) error {
		var err error
		got, err = tx.ServiceCreate(ctx, s)
		return err
	})
	if err != nil {
		t.Fatalf("create service %s: %v", s.Name, err)
	}
	return got
}

// serviceGet reads a service both through the Store and inside a transaction.
func serviceGet(t *testing.T, st incident.Store, name string) incident.TechService {
	t.Helper()
	ctx := t.Context()
	got, err := st.ServiceGet(ctx, name)
	if err != nil {
		t.Fatalf("get service %s: %v", name, err)
	}
	err = st.InTx(ctx, func(tx incident.Tx) error {
		inTx, err := tx.ServiceGet(ctx, name)
		if err == nil {
			equalService(t, inTx, got)
		}
		return err
	})
	if err != nil {
		t.Fatalf("get service %s in tx: %v", name, err)
	}
	return got
}

func testServiceSettings(t *testing.T, s incident.Store) {
	want := incident.TechService{
		ID: "svc-1", Name: "checkout", Description: "the shop", CreatedAt: base,
		EscalationPolicy: "web-oncall",
		AckTimeout:       30*time.Minute + 250*time.Millisecond,
		SeverityMap:      map[string]string{events.SeverityWarning: "SEV2", "info": "SEV3", `we"ird\key`: "SEV1"},
		AlertGrouping:    &events.AlertGrouping{By: []string{"labels.cluster", "source"}, WindowMs: 1_800_000},
	}
	equalService(t, createService(t, s, want), want)
	equalService(t, serviceGet(t, s, "checkout"), want)

	// Finer than a millisecond may be cut, never more.
	fine := incident.TechService{Name: "billing", AckTimeout: time.Minute + 999*time.Microsecond}
	got := createService(t, s, fine)
	if got.AckTimeout != time.Minute {
		t.Errorf("ack timeout %v stored as %v, want %v", fine.AckTimeout, got.AckTimeout, time.Minute)
	}
}

// A service without severity overrides comes back with a nil SeverityMap,
// whether nil or an empty map was written (incident.TechService).
func testServiceSeverityMapEmpty(t *testing.T, s incident.Store) {
	tests := []struct {
		name string
		m    map[string]string
	}{
		{"nil", nil},
		{"empty", map[string]string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			created := createService(t, s, incident.TechService{Name: "create-" + tc.name, SeverityMap: tc.m})
			if created.SeverityMap != nil {
				t.Errorf("created: severity map %#v, want nil", created.SeverityMap)
			}
			ctx := t.Context()
			updated := createService(t, s, incident.TechService{Name: "update-" + tc.name, SeverityMap: map[string]string{"info": "SEV4"}})
			updated.SeverityMap = tc.m
			if err := s.InTx(ctx, func(tx incident.Tx) error { return tx.ServiceUpdate(ctx, updated) }); err != nil {
				t.Fatal(err)
			}
			if got := serviceGet(t, s, updated.Name); got.SeverityMap != nil {
				t.Errorf("updated: severity map %#v, want nil", got.SeverityMap)
			}
		})
	}
}

// ServiceUpdate overwrites the settings of the service of that name; its id
// and creation time stay.
func testServiceUpdate(t *testing.T, s incident.Store) {
	ctx := t.Context()
	orig := createService(t, s, incident.TechService{
		ID: "svc-1", Name: "checkout", Description: "the shop", CreatedAt: base,
		EscalationPolicy: "web-oncall", AckTimeout: time.Hour, SeverityMap: map[string]string{"warning": "SEV2", "info": "SEV3"},
	})
	other := createService(t, s, incident.TechService{ID: "svc-2", Name: "billing", Description: "money", CreatedAt: base})
	err := s.InTx(ctx, func(tx incident.Tx) error {
		return tx.ServiceUpdate(ctx, incident.TechService{
			ID: "ignored", Name: "checkout", Description: "the new shop", CreatedAt: base.Add(time.Hour),
			EscalationPolicy: "payments-oncall", AckTimeout: 15 * time.Minute, SeverityMap: map[string]string{"critical": "SEV2"},
			AlertGrouping: &events.AlertGrouping{By: []string{"component"}},
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	want := incident.TechService{
		ID: orig.ID, Name: "checkout", Description: "the new shop", CreatedAt: orig.CreatedAt,
		EscalationPolicy: "payments-oncall", AckTimeout: 15 * time.Minute, SeverityMap: map[string]string{"critical": "SEV2"},
		AlertGrouping: &events.AlertGrouping{By: []string{"component"}},
	}
	equalService(t, serviceGet(t, s, "checkout"), want)
	equalService(t, serviceGet(t, s, "billing"), other)

	// Zero settings clear them.
	if err := s.InTx(ctx, func(tx incident.Tx) error { return tx.ServiceUpdate(ctx, incident.TechService{Name: "checkout"}) }); err != nil {
		t.Fatal(err)
	}
	equalService(t, serviceGet(t, s, "checkout"), incident.TechService{ID: orig.ID, Name: "checkout", CreatedAt: orig.CreatedAt})
}

func testServiceUpdateUnknown(t *testing.T, s incident.Store) {
	ctx := t.Context()
	createService(t, s, incident.TechService{Name: "checkout"})
	err := s.InTx(ctx, func(tx incident.Tx) error {
		return tx.ServiceUpdate(ctx, incident.TechService{Name: "nope", Description: "x"})
	})
	if !errors.Is(err, incident.ErrNotFound) {
		t.Errorf("ServiceUpdate(unknown) = %v, want ErrNotFound", err)
	}
	if _, err := s.ServiceGet(ctx, "nope"); !errors.Is(err, incident.ErrNotFound) {
		t.Errorf("Store.ServiceGet(unknown) = %v, want ErrNotFound", err)
	}
}

func testServiceList(t *testing.T, s incident.Store) {
	ctx := t.Context()
	got, err := s.ServiceList(ctx)
	if err != nil || len(got) != 0 {
		t.Fatalf("empty store: ServiceList = %v, %v", got, err)
	}
	var want []incident.TechService
	for i, name := range []string{"search", "billing", "checkout"} {
		want = append(want, createService(t, s, incident.TechService{
			ID: fmt.Sprintf("svc-%d", i), Name: name, Description: "about " + name, CreatedAt: base.Add(time.Duration(i) * time.Second),
			EscalationPolicy: name + "-oncall", AckTimeout: time.Duration(i) * time.Minute, SeverityMap: map[string]string{"info": "SEV" + fmt.Sprint(i+2)},
		}))
	}
	slices.SortFunc(want, func(a, b incident.TechService) int { return strings.Compare(a.Name, b.Name) })
	got, err = s.ServiceList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("ServiceList = %d services, want %d: %+v", len(got), len(want), got)
	}
	for i := range got {
		equalService(t, got[i], want[i])
	}
}
