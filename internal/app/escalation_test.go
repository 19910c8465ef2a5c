package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/client"
	"github.com/firebreak-dev/firebreak/services/escalation"
	"github.com/firebreak-dev/firebreak/services/incident"
	"github.com/firebreak-dev/firebreak/services/intake"
)

// fakeClock is the process clock of a test that fast-forwards escalations.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// pages returns the page.requested events on the bus so far.
func (rec *recorder) pages(t *testing.T) []events.PageRequested {
	t.Helper()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var out []events.PageRequested
	for _, m := range rec.msgs {
		e, err := events.Decode(m.Data)
		if err != nil || e.Type != events.TypePageRequested {
			continue
		}
		var p events.PageRequested
		if err := e.DecodeData(&p); err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

// TestEscalationEndToEnd: a configuration posted to the API pages level 1
// of the service's policy when an alert opens an incident, escalates to
// level 2 when nobody acknowledges within a minute (on a fast-forwarded
// clock), and stops paging once someone acknowledges.
func TestEscalationEndToEnd(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Now().UTC().Truncate(time.Second)}
	cfg := devConfig(t.TempDir())
	cfg.Now = clock.Now
	a := start(t, cfg)
	rec := record(t, a.NATSConn())
	ctx := context.Background()
	c := client.New(a.HTTPURL(), a.Token(), "cli")

	slack := func(id string) escalation.User {
		return escalation.User{ID: id, ContactMethods: []escalation.ContactMethod{{Name: "slack", Type: escalation.ContactSlack, Address: "U-" + id}}}
	}
	conf := escalation.Config{
		Services: []escalation.ServiceConfig{{Name: "checkout", EscalationPolicy: "web"}},
		Users:    []escalation.User{slack("alice"), slack("bob")},
		Policies: []escalation.Policy{{Name: "web", Levels: []escalation.Level{
			{DelayMinutes: 1, Targets: []escalation.Target{{Type: escalation.TargetUser, ID: "alice"}}},
			{DelayMinutes: 1, Targets: []escalation.Target{{Type: escalation.TargetUser, ID: "bob"}}},
		}}},
	}
	body, _ := json.Marshal(conf)
	req, _ := http.NewRequest("POST", a.HTTPURL()+"/api/v1/config", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+a.Token())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var applied escalation.ApplyJSON
	err = json.NewDecoder(resp.Body).Decode(&applied)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || !applied.Applied || len(applied.Changes) == 0 {
		t.Fatalf("apply: %d %+v %v", resp.StatusCode, applied, err)
	}

	if _, err := c.SendAlert(ctx, intake.Alert{Service: "checkout", DedupKey: "5xx", Summary: "5xx above 5%", Severity: "critical"}); err != nil {
		t.Fatal(err)
	}
	inc := waitIncident(t, c, "INC-1", func(incident.IncidentJSON) bool { return true })
	eventually(t, "level 1 paged", func() bool { return len(rec.pages(t)) == 1 })
	if p := rec.pages(t)[0]; p.User != "alice" || p.Level != 1 || p.IncidentID != inc.ID || p.Number != 1 ||
		p.Service != "checkout" || p.Title != "5xx above 5%" || p.Severity != "SEV1" {
		t.Fatalf("level 1 page %+v", p)
	}

	// A minute passes without an acknowledgement.
	clock.Add(time.Minute)
	waitIncident(t, c, "INC-1", func(i incident.IncidentJSON) bool {
		return i.Status == incident.StatusEscalated && i.EscalationLevel == 2
	})
	eventually(t, "level 2 paged", func() bool { return len(rec.pages(t)) == 2 })
	if p := rec.pages(t)[1]; p.User != "bob" || p.Level != 2 {
		t.Fatalf("level 2 page %+v", p)
	}

	if _, err := c.Acknowledge(ctx, "INC-1", "on it"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "escalation stopped", func() bool {
		e, err := a.Escalation.Escalation(ctx, inc.ID)
		return err == nil && e.Status == escalation.StatusStopped
	})
	clock.Add(time.Hour)
	time.Sleep(500 * time.Millisecond) // several timer polls
	if got := rec.pages(t); len(got) != 2 {
		t.Fatalf("pages after the acknowledgement: %+v", got[2:])
	}
	for _, typ := range []string{events.TypeServiceConfigured, events.TypeConfigApplied, events.CmdIncidentEscalate, events.TypeIncidentEscalated} {
		found := false
		for _, got := range rec.types() {
			found = found || got == typ
		}
		if !found {
			t.Errorf("no %s on the bus", typ)
		}
	}
	rec.validate(t)
}
