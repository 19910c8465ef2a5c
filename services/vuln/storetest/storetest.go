// Package storetest is the contract every vuln.Store adapter passes. Each
// adapter's tests call Run with a function that opens a fresh, migrated
// store ("outbox", "timer" and "vuln" sets).
package storetest

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/timer"
	"github.com/firebreak-dev/firebreak/services/vuln"
	"github.com/firebreak-dev/firebreak/services/vuln/cvss"
	"github.com/firebreak-dev/firebreak/services/vuln/policy"
)

// OutboxCounter is implemented by adapters that can count unpublished
// outbox rows.
type OutboxCounter interface {
	OutboxCount(ctx context.Context) (int64, error)
}

// Run runs the contract against stores from open.
func Run(t *testing.T, open func(t *testing.T) vuln.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s vuln.Store)
	}{
		{"products", testProducts},
		{"vuln round trip", testVulnRoundTrip},
		{"dedup key unique", testDedupKey},
		{"optimistic update", testOptimistic},
		{"concurrent updates", testConcurrent},
		{"lists", testLists},
		{"history", testHistory},
		{"notices and advisories", testAdvisories},
		{"rollback", testRollback},
		{"timers fire once", testTimers},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open(t))
		})
	}
}

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// Sample returns a vulnerability using every field, numbered n.
func Sample(n int64) vuln.Vuln {
	return vuln.Vuln{
		ID: uuid.Must(uuid.NewV7()).String(), Number: n, Title: "RCE in template engine", Description: "details",
		Product: "web", Component: "golang.org/x/net", AffectedVersions: "< 0.17.0", FixedVersion: "0.17.0",
		AdvisoryID: "GHSA-4374-p667-p6c8", Identifiers: []string{"CVE-2023-39325", "GHSA-4374-p667-p6c8"},
		Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", Score: 7.5, Severity: cvss.High, Hosting: policy.Cloud,
		Service: "checkout", Source: vuln.SourceScanner, Reporter: vuln.Reporter{Name: "Eve", Contact: "eve@example.org"},
		Assignee: "alice", Status: vuln.StatusIdentified, Public: true, Mitigated: []policy.Interval{{From: t0, To: t0.Add(time.Hour)}},
		Fingerprint: "abc", ReportedAt: t0, CreatedAt: t0, UpdatedAt: t0, Version: 1,
	}
}

func put(t *testing.T, s vuln.Store, vs ...vuln.Vuln) {
	t.Helper()
	if err := s.InTx(context.Background(), func(tx vuln.Tx) error {
		for _, v := range vs {
			if err := tx.VulnInsert(context.Background(), v); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func testProducts(t *testing.T, s vuln.Store) {
	ctx := context.Background()
	err := s.InTx(ctx, func(tx vuln.Tx) error {
		if _, err := tx.ProductGet(ctx, "web"); !errors.Is(err, vuln.ErrNotFound) {
			t.Errorf("missing product: %v", err)
		}
		if err := tx.ProductPut(ctx, vuln.Product{Name: "web", Hosting: policy.Cloud, Service: "a"}); err != nil {
			return err
		}
		if err := tx.ProductPut(ctx, vuln.Product{Name: "web", Hosting: policy.DataCenter, Service: "b"}); err != nil {
			return err
		}
		return tx.ProductPut(ctx, vuln.Product{Name: "app", Hosting: policy.Cloud, Service: "c"})
	})
	if err != nil {
		t.Fatal(err)
	}
	ps, err := s.ProductList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []vuln.Product{{Name: "app", Hosting: policy.Cloud, Service: "c"}, {Name: "web", Hosting: policy.DataCenter, Service: "b"}}
	if !reflect.DeepEqual(ps, want) {
		t.Errorf("products = %+v, want %+v", ps, want)
	}
}

func testVulnRoundTrip(t *testing.T, s vuln.Store) {
	ctx := context.Background()
	v := Sample(1)
	put(t, s, v)
	for _, got := range []func() (vuln.Vuln, error){
		func() (vuln.Vuln, error) { return s.VulnGet(ctx, v.ID, 0) },
		func() (vuln.Vuln, error) { return s.VulnGet(ctx, "", 1) },
	} {
		g, err := got()
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(g, v) {
			t.Errorf("got  %+v\nwant %+v", g, v)
		}
	}
	if _, err := s.VulnGet(ctx, "nope", 0); !errors.Is(err, vuln.ErrNotFound) {
		t.Errorf("missing id: %v", err)
	}
	if _, err := s.VulnGet(ctx, "", 99); !errors.Is(err, vuln.ErrNotFound) {
		t.Errorf("missing number: %v", err)
	}
	var next int64
	if err := s.InTx(ctx, func(tx vuln.Tx) (err error) { next, err = tx.VulnNextNumber(ctx); return }); err != nil || next != 2 {
		t.Errorf("next number = %d, %v; want 2", next, err)
	}
}

func testDedupKey(t *testing.T, s vuln.Store) {
	ctx := context.Background()
	a := Sample(1)
	put(t, s, a)
	b := Sample(2)
	err := s.InTx(ctx, func(tx vuln.Tx) error { return tx.VulnInsert(ctx, b) })
	if err == nil {
		t.Fatal("a second record with the same (product, component, advisory) was stored")
	}
	// Without an advisory id there is no key.
	c, d := Sample(3), Sample(4)
	c.AdvisoryID, d.AdvisoryID = "", ""
	put(t, s, c, d)
	e := Sample(5)
	e.Product = "other"
	put(t, s, e)
}

func testOptimistic(t *testing.T, s vuln.Store) {
	ctx := context.Background()
	v := Sample(1)
	put(t, s, v)
	v.Status = vuln.StatusAcknowledged
	var got vuln.Vuln
	if err := s.InTx(ctx, func(tx vuln.Tx) (err error) { got, err = tx.VulnUpdate(ctx, v); return }); err != nil {
		t.Fatal(err)
	}
	if got.Version != 2 {
		t.Errorf("version %d, want 2", got.Version)
	}
	stale := v // still at version 1
	err := s.InTx(ctx, func(tx vuln.Tx) error { _, err := tx.VulnUpdate(ctx, stale); return err })
	if !errors.Is(err, vuln.ErrConflict) {
		t.Errorf("stale update: %v, want ErrConflict", err)
	}
	g, _ := s.VulnGet(ctx, v.ID, 0)
	if g.Status != vuln.StatusAcknowledged || g.Version != 2 {
		t.Errorf("stored %s v%d", g.Status, g.Version)
	}
}

// testConcurrent: read-modify-write in InTx from many goroutines loses no
// update (InTx re-runs fn on conflict).
func testConcurrent(t *testing.T, s vuln.Store) {
	ctx := context.Background()
	v := Sample(1)
	v.Identifiers = nil
	put(t, s, v)
	const n = 4
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- s.InTx(ctx, func(tx vuln.Tx) error {
				cur, err := tx.VulnGet(ctx, v.ID, 0)
				if err != nil {
					return err
				}
				cur.Identifiers = append(cur.Identifiers, string(rune('a'+i)))
				_, err = tx.VulnUpdate(ctx, cur)
				return err
			})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	g, _ := s.VulnGet(ctx, v.ID, 0)
	if len(g.Identifiers) != n || g.Version != n+1 {
		t.Errorf("after %d updates: %v v%d", n, g.Identifiers, g.Version)
	}
}

func testLists(t *testing.T, s vuln.Store) {
	ctx := context.Background()
	var vs []vuln.Vuln
	statuses := []vuln.Status{vuln.StatusIdentified, vuln.StatusMitigated, vuln.StatusReleased, vuln.StatusClosed, vuln.StatusRejected, vuln.StatusTriaged}
	for i, st := range statuses {
		v := Sample(int64(i + 1))
		v.AdvisoryID = v.AdvisoryID + string(rune('a'+i))
		v.Status = st
		if i%2 == 0 {
			v.Severity = cvss.Critical
		}
		vs = append(vs, v)
	}
	vs[5].Product = "app"
	put(t, s, vs...)
	nums := func(vs []vuln.Vuln, err error) []int64 {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		out := []int64{}
		for _, v := range vs {
			out = append(out, v.Number)
		}
		return out
	}
	for name, c := range map[string]struct {
		got  []int64
		want []int64
	}{
		"all":        {nums(s.VulnList(ctx, vuln.Filter{Limit: 100})), []int64{1, 2, 3, 4, 5, 6}},
		"page":       {nums(s.VulnList(ctx, vuln.Filter{After: 2, Limit: 2})), []int64{3, 4}},
		"status":     {nums(s.VulnList(ctx, vuln.Filter{Status: vuln.StatusClosed, Limit: 100})), []int64{4}},
		"severity":   {nums(s.VulnList(ctx, vuln.Filter{Severity: "Critical", Limit: 100})), []int64{1, 3, 5}},
		"product":    {nums(s.VulnList(ctx, vuln.Filter{Product: "app", Limit: 100})), []int64{6}},
		"open":       {nums(s.VulnListOpen(ctx)), []int64{1, 2, 6}},
		"remediated": {nums(s.VulnListRemediated(ctx)), []int64{3, 4}},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: %v, want %v", name, c.got, c.want)
		}
	}
	var byProduct []vuln.Vuln
	if err := s.InTx(ctx, func(tx vuln.Tx) (err error) { byProduct, err = tx.VulnListByProduct(ctx, "web"); return }); err != nil {
		t.Fatal(err)
	}
	if got := nums(byProduct, nil); !reflect.DeepEqual(got, []int64{1, 2, 3, 4, 5}) {
		t.Errorf("by product: %v", got)
	}
}

func testHistory(t *testing.T, s vuln.Store) {
	ctx := context.Background()
	v := Sample(1)
	put(t, s, v)
	hs := []vuln.History{
		{VulnID: v.ID, Kind: vuln.HistoryCreated, At: t0, Severity: cvss.High, Actor: "alice", To: "identified"},
		{VulnID: v.ID, Kind: vuln.HistoryBreach, At: t0.Add(time.Hour), Severity: cvss.High, Actor: "vuln"},
		{VulnID: v.ID, Kind: vuln.HistoryBreach, At: t0.Add(2 * time.Hour), Severity: cvss.Critical, Actor: "vuln"},
		{VulnID: v.ID, Kind: vuln.HistoryBreach, At: t0.Add(48 * time.Hour), Severity: cvss.Critical, Actor: "vuln"},
	}
	if err := s.InTx(ctx, func(tx vuln.Tx) error {
		for _, h := range hs {
			if err := tx.HistoryAdd(ctx, h); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	got, err := s.HistoryList(ctx, v.ID)
	if err != nil || !reflect.DeepEqual(got, hs) {
		t.Errorf("history = %+v, %v", got, err)
	}
	counts, err := s.HistoryCount(ctx, vuln.HistoryBreach, t0, t0.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]int64{"High": 1, "Critical": 1}; !reflect.DeepEqual(counts, want) {
		t.Errorf("breach counts = %v, want %v (the window is half-open)", counts, want)
	}
}

func testAdvisories(t *testing.T, s vuln.Store) {
	ctx := context.Background()
	pub, embargoed, private := Sample(1), Sample(2), Sample(3)
	embargoed.AdvisoryID, private.AdvisoryID = "E", "P"
	embargoed.Embargoed, private.Public = true, false
	put(t, s, pub, embargoed, private)
	notice := func(v vuln.Vuln, st vuln.NoticeStatus, at time.Time) vuln.Notice {
		n := vuln.Notice{ID: uuid.Must(uuid.NewV7()).String(), VulnID: v.ID, Status: st, Title: "about " + v.AdvisoryID,
			WhatHappened: "w", CreatedAt: t0, Version: 1}
		if st == vuln.NoticePublished {
			n.PublishedAt = at
		}
		return n
	}
	ns := []vuln.Notice{
		notice(pub, vuln.NoticePublished, t0.Add(time.Hour)), notice(pub, vuln.NoticeStatusDraft, time.Time{}),
		notice(pub, vuln.NoticePublished, t0.Add(2*time.Hour)),
		notice(embargoed, vuln.NoticePublished, t0), notice(private, vuln.NoticePublished, t0),
	}
	if err := s.InTx(ctx, func(tx vuln.Tx) error {
		for _, n := range ns {
			if err := tx.NoticeInsert(ctx, n); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	as, err := s.AdvisoryList(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(as) != 2 || as[0].ID != ns[2].ID || as[1].ID != ns[0].ID {
		t.Fatalf("advisories = %+v; want the two published notices of the public record, newest first", as)
	}
	// Embargoing the public record takes its advisories down.
	pub.Embargoed = true
	if err := s.InTx(ctx, func(tx vuln.Tx) error { _, err := tx.VulnUpdate(ctx, pub); return err }); err != nil {
		t.Fatal(err)
	}
	if as, _ := s.AdvisoryList(ctx, 10); len(as) != 0 {
		t.Errorf("embargoed advisories listed: %+v", as)
	}
	got, err := s.NoticeGet(ctx, ns[1].ID)
	if err != nil || !reflect.DeepEqual(got, ns[1]) {
		t.Errorf("notice = %+v, %v", got, err)
	}
	got.Status, got.PublishedAt = vuln.NoticePublished, t0.Add(3*time.Hour)
	if err := s.InTx(ctx, func(tx vuln.Tx) error { _, err := tx.NoticeUpdate(ctx, got); return err }); err != nil {
		t.Fatal(err)
	}
	if err := s.InTx(ctx, func(tx vuln.Tx) error { _, err := tx.NoticeUpdate(ctx, got); return err }); !errors.Is(err, vuln.ErrConflict) {
		t.Errorf("stale notice update: %v", err)
	}
	list, err := s.NoticeList(ctx, pub.ID)
	if err != nil || len(list) != 3 {
		t.Errorf("notices of pub: %d, %v", len(list), err)
	}
	if _, err := s.NoticeGet(ctx, "nope"); !errors.Is(err, vuln.ErrNotFound) {
		t.Errorf("missing notice: %v", err)
	}
}

func testRollback(t *testing.T, s vuln.Store) {
	ctx := context.Background()
	boom := errors.New("boom")
	v := Sample(1)
	err := s.InTx(ctx, func(tx vuln.Tx) error {
		if err := tx.VulnInsert(ctx, v); err != nil {
			return err
		}
		env := events.MustNew(events.TypeVulnCreated, vuln.Name, v.ID, events.System(vuln.Name), events.VulnRecorded{Title: "x"})
		if err := tx.Emit(ctx, env); err != nil {
			return err
		}
		if err := tx.ScheduleTimer(ctx, timer.Timer{Kind: vuln.TimerSLA, Key: v.ID, DueAt: t0}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if _, err := s.VulnGet(ctx, v.ID, 0); !errors.Is(err, vuln.ErrNotFound) {
		t.Errorf("rolled-back insert visible: %v", err)
	}
	if oc, ok := s.(OutboxCounter); ok {
		if n, _ := oc.OutboxCount(ctx); n != 0 {
			t.Errorf("outbox has %d rows after rollback", n)
		}
	}
	if ts, _ := s.Timers().ClaimDue(ctx, t0.Add(time.Hour), 10, "x", time.Minute); len(ts) != 0 {
		t.Errorf("rolled-back timer claimed: %+v", ts)
	}
}

func testTimers(t *testing.T, s vuln.Store) {
	ctx := context.Background()
	v := Sample(1)
	put(t, s, v)
	if err := s.InTx(ctx, func(tx vuln.Tx) error {
		return tx.ScheduleTimer(ctx, timer.Timer{Kind: vuln.TimerSLA, Key: v.ID, DueAt: t0})
	}); err != nil {
		t.Fatal(err)
	}
	ts, err := s.Timers().ClaimDue(ctx, t0, 10, "r1", time.Minute)
	if err != nil || len(ts) != 1 {
		t.Fatalf("claimed %d, %v", len(ts), err)
	}
	fired := 0
	fire := func() error {
		return s.FireTimer(ctx, ts[0], func(tx vuln.Tx) error {
			fired++
			cur, err := tx.VulnGet(ctx, v.ID, 0)
			if err != nil {
				return err
			}
			cur.SLANotified = 0.5
			_, err = tx.VulnUpdate(ctx, cur)
			return err
		})
	}
	if err := fire(); err != nil {
		t.Fatal(err)
	}
	if err := fire(); !errors.Is(err, timer.ErrGone) {
		t.Errorf("second fire: %v, want ErrGone", err)
	}
	if fired != 1 {
		t.Errorf("fired %d times", fired)
	}
	g, _ := s.VulnGet(ctx, v.ID, 0)
	if g.SLANotified != 0.5 {
		t.Errorf("effect not committed: %v", g.SLANotified)
	}
}
