package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/services/incident"
)

// groupTests are the contract of alert grouping and merging in the store
// (group keys, IncidentOpenByGroup, members, AlertFiringCount, AlertsMove);
// Run runs them too.
var groupTests = []struct {
	name string
	fn   func(t *testing.T, s incident.Store)
}{
	{"GroupKeyRoundTrip", testGroupKeyRoundTrip},
	{"OpenByGroup", testOpenByGroup},
	{"MembersFindTheirIncident", testMembers},
	{"AlertFiringCount", testAlertFiringCount},
	{"AlertsMove", testAlertsMove},
}

func inTx(t *testing.T, s incident.Store, fn func(tx incident.Tx) error) {
	t.Helper()
	if err := s.InTx(t.Context(), fn); err != nil {
		t.Fatal(err)
	}
}

func testGroupKeyRoundTrip(t *testing.T, s incident.Store) {
	inc := newIncident("inc-g", "checkout", "disk-db1")
	inc.GroupKey = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
	inc = create(t, s, inc)
	got := get(t, s, incident.Ref{ID: inc.ID})
	if got.GroupKey != inc.GroupKey {
		t.Fatalf("group key %q, want %q", got.GroupKey, inc.GroupKey)
	}
	// Updates keep it.
	got.Title = "renamed"
	update(t, s, got)
	if g := get(t, s, incident.Ref{ID: inc.ID}); g.GroupKey != inc.GroupKey {
		t.Fatalf("group key after update %q, want %q", g.GroupKey, inc.GroupKey)
	}
}

func testOpenByGroup(t *testing.T, s incident.Store) {
	ctx := t.Context()
	mk := func(id, service, dedup, group string, created time.Duration) incident.Incident {
		inc := newIncident(id, service, dedup)
		inc.GroupKey, inc.CreatedAt = group, base.Add(created)
		return create(t, s, inc)
	}
	old := mk("inc-old", "checkout", "a", "g1", 0)
	newer := mk("inc-new", "checkout", "b", "g1", 10*time.Minute)
	mk("inc-other-service", "billing", "c", "g1", 20*time.Minute)
	mk("inc-other-group", "checkout", "d", "g2", 20*time.Minute)
	mk("inc-no-group", "checkout", "e", "", 20*time.Minute)
	find := func(group string, since time.Time) (string, error) {
		var id string
		err := s.InTx(ctx, func(tx incident.Tx) error {
			inc, err := tx.IncidentOpenByGroup(ctx, "checkout", group, since)
			id = inc.ID
			return err
		})
		return id, err
	}
	if id, err := find("g1", time.Time{}); err != nil || id != newer.ID {
		t.Fatalf("open of g1 = %q, %v; want the newest, %s", id, err, newer.ID)
	}
	if id, err := find("g1", base.Add(10*time.Minute)); err != nil || id != newer.ID {
		t.Fatalf("open of g1 since its creation = %q, %v; want %s", id, err, newer.ID)
	}
	if _, err := find("g1", base.Add(11*time.Minute)); !errors.Is(err, incident.ErrNotFound) {
		t.Fatalf("open of g1 after the window: %v, want ErrNotFound", err)
	}
	if _, err := find("", time.Time{}); !errors.Is(err, incident.ErrNotFound) {
		t.Fatalf("the empty group key found an incident: %v", err)
	}
	resolve(t, s, newer)
	if id, err := find("g1", time.Time{}); err != nil || id != old.ID {
		t.Fatalf("open of g1 after resolving the newest = %q, %v; want %s", id, err, old.ID)
	}
	resolve(t, s, old)
	if _, err := find("g1", time.Time{}); !errors.Is(err, incident.ErrNotFound) {
		t.Fatalf("g1 with every incident resolved: %v, want ErrNotFound", err)
	}
}

func testMembers(t *testing.T, s incident.Store) {
	ctx := t.Context()
	first := create(t, s, newIncident("inc-1", "checkout", "own-1"))
	second := create(t, s, newIncident("inc-2", "checkout", "own-2"))
	openOf := func(service, key string) (string, error) {
		var id string
		err := s.InTx(ctx, func(tx incident.Tx) error {
			inc, err := tx.IncidentOpenByDedup(ctx, service, key)
			id = inc.ID
			return err
		})
		return id, err
	}
	inTx(t, s, func(tx incident.Tx) error {
		if err := tx.MemberAdd(ctx, "checkout", "joined", first.ID, base); err != nil {
			return err
		}
		return tx.MemberAdd(ctx, "checkout", "joined", first.ID, base) // twice: a no-op
	})
	if id, err := openOf("checkout", "joined"); err != nil || id != first.ID {
		t.Fatalf("member key finds %q, %v; want %s", id, err, first.ID)
	}
	if _, err := openOf("billing", "joined"); !errors.Is(err, incident.ErrNotFound) {
		t.Fatalf("member of another service: %v, want ErrNotFound", err)
	}
	// An incident's own dedup key wins over a membership.
	inTx(t, s, func(tx incident.Tx) error { return tx.MemberAdd(ctx, "checkout", "own-2", first.ID, base) })
	if id, err := openOf("checkout", "own-2"); err != nil || id != second.ID {
		t.Fatalf("own key finds %q, %v; want %s", id, err, second.ID)
	}
	// A merge copies the members; the newest open incident listed wins,
	// and a resolved one no longer counts.
	var n1, n2 int64
	inTx(t, s, func(tx incident.Tx) error {
		if err := tx.MembersCopy(ctx, first.ID, second.ID, base); err != nil {
			return err
		}
		var err error
		if n1, err = tx.MemberCount(ctx, first.ID); err != nil {
			return err
		}
		n2, err = tx.MemberCount(ctx, second.ID)
		return err
	})
	if n1 != 2 || n2 != 2 {
		t.Fatalf("member counts %d, %d; want 2, 2", n1, n2)
	}
	if id, err := openOf("checkout", "joined"); err != nil || id != second.ID {
		t.Fatalf("after the copy the member key finds %q, %v; want the newer %s", id, err, second.ID)
	}
	resolve(t, s, second)
	if id, err := openOf("checkout", "joined"); err != nil || id != first.ID {
		t.Fatalf("after resolving %s the member key finds %q, %v; want %s", second.ID, id, err, first.ID)
	}
	resolve(t, s, first)
	if _, err := openOf("checkout", "joined"); !errors.Is(err, incident.ErrNotFound) {
		t.Fatalf("member key of resolved incidents: %v, want ErrNotFound", err)
	}
}

func testAlertFiringCount(t *testing.T, s incident.Store) {
	ctx := t.Context()
	inc := create(t, s, newIncident("inc-f", "checkout", "k"))
	other := create(t, s, newIncident("inc-o", "checkout", "o"))
	record(t, s, 10,
		simpleAlert(inc.ID, "a", incident.AlertFiring, 0),
		simpleAlert(inc.ID, "b", incident.AlertFiring, time.Second),
		simpleAlert(inc.ID, "c", incident.AlertResolved, 2*time.Second),
		simpleAlert(other.ID, "a", incident.AlertFiring, 0))
	count := func() int64 {
		var n int64
		inTx(t, s, func(tx incident.Tx) error {
			var err error
			n, err = tx.AlertFiringCount(ctx, inc.ID)
			return err
		})
		return n
	}
	if n := count(); n != 2 {
		t.Fatalf("firing %d, want 2", n)
	}
	record(t, s, 10, simpleAlert(inc.ID, "a", incident.AlertResolved, 3*time.Second))
	if n := count(); n != 1 {
		t.Fatalf("firing after a resolve %d, want 1", n)
	}
}

func testAlertsMove(t *testing.T, s incident.Store) {
	ctx := t.Context()
	child := create(t, s, newIncident("inc-child", "checkout", "child"))
	parent := create(t, s, newIncident("inc-parent", "checkout", "parent"))
	// The parent has "shared" already and room for one more alert.
	record(t, s, 3,
		simpleAlert(parent.ID, "p", incident.AlertFiring, 0),
		simpleAlert(parent.ID, "shared", incident.AlertFiring, 0))
	record(t, s, 10,
		simpleAlert(child.ID, "shared", incident.AlertResolved, time.Second),
		simpleAlert(child.ID, "c1", incident.AlertFiring, 2*time.Second),
		simpleAlert(child.ID, "c2", incident.AlertFiring, 3*time.Second))
	record(t, s, 3, simpleAlert(child.ID, "c3", incident.AlertFiring, 4*time.Second)) // over 3: overflow 1
	var moved int64
	inTx(t, s, func(tx incident.Tx) error {
		var err error
		moved, err = tx.AlertsMove(ctx, child.ID, parent.ID, 3)
		return err
	})
	if moved != 3 {
		t.Fatalf("moved %d, want the child's 3 alerts", moved)
	}
	if got := listAlerts(t, s, incident.AlertFilter{IncidentID: child.ID}); len(got) != 0 {
		t.Fatalf("the child still has %d alerts", len(got))
	}
	if st := stats(t, s, child.ID); st != (incident.AlertStats{}) {
		t.Fatalf("child stats after the move %+v, want zero", st)
	}
	got := listAlerts(t, s, incident.AlertFilter{IncidentID: parent.ID})
	keys := map[string]incident.Alert{}
	for _, a := range got {
		keys[a.Key] = a
	}
	if len(got) != 3 || keys["p"].Key == "" || keys["c1"].Key == "" {
		t.Fatalf("parent alerts %v, want p, shared, c1", got)
	}
	if sh := keys["shared"]; sh.Status != incident.AlertResolved || sh.Receipts != 2 {
		t.Fatalf("shared alert %+v: want the child's content (resolved) and both receipts", sh)
	}
	// c2 did not fit (1 receipt), and the child's own overflow (c3) came along.
	if st := stats(t, s, parent.ID); st.Overflow != 2 {
		t.Fatalf("parent overflow %d, want 2", st.Overflow)
	}
}
