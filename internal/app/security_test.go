package app_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/client"
	"github.com/firebreak-dev/firebreak/internal/token"
	"github.com/firebreak-dev/firebreak/services/audit"
	"github.com/firebreak-dev/firebreak/services/intake"
)

// auditEvents lists the audit records of type typ (and actor, if set),
// decoded back into their envelopes.
func auditEvents(t *testing.T, a *running, typ, actor string) []events.Envelope {
	t.Helper()
	q := url.Values{"type": {typ}, "limit": {"1000"}}
	if actor != "" {
		q.Set("actor", actor)
	}
	var list audit.ListJSON
	if st := auditGet(t, a, "/api/v1/audit?"+q.Encode(), &list); st != http.StatusOK {
		t.Fatalf("audit listing: %d", st)
	}
	var out []events.Envelope
	for _, r := range list.Items {
		if r.Type != typ {
			t.Fatalf("type=%s listed a %s record", typ, r.Type)
		}
		env, err := events.Decode([]byte(r.Entry))
		if err != nil {
			t.Fatalf("record %d: %v", r.Seq, err)
		}
		out = append(out, env)
	}
	return out
}

func deniedData(t *testing.T, env events.Envelope) events.AuthDenied {
	t.Helper()
	var d events.AuthDenied
	if err := env.DecodeData(&d); err != nil {
		t.Fatal(err)
	}
	return d
}

// anonymousGet calls path with no token, or a bad one.
func anonymousGet(t *testing.T, a *running, path, bearer string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, a.HTTPURL()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("User-Agent", "scanner/1.0")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestSecurityEventsAudited: a 403, a 401 and a token's use end up in the
// audit log, listed by type through the audit API; a burst of 100 denials
// from one address is one record, and the next one after the window
// carries the 99 held back. No record holds a token secret.
func TestSecurityEventsAudited(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Now().UTC().Truncate(time.Second)}
	cfg := devConfig(t.TempDir())
	cfg.Now = clock.Now
	a := start(t, cfg)
	rec := record(t, a.NATSConn())
	ctx := context.Background()
	admin := client.New(a.HTTPURL(), a.Token(), "cli")

	created, err := admin.CreateToken(ctx, token.Spec{User: "alice", Scopes: []string{token.ScopeIncidentsRead}})
	if err != nil {
		t.Fatal(err)
	}
	alice := client.New(a.HTTPURL(), created.Secret, "")
	for range 3 {
		if _, err := alice.ListIncidents(ctx, client.ListOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	// 100 requests without a token from one address, in a burst.
	for range 100 {
		if st := anonymousGet(t, a, "/api/v1/incidents", ""); st != http.StatusUnauthorized {
			t.Fatalf("no token: %d", st)
		}
	}
	// Then a 403. Security events are published in the order they
	// happen, so once it is logged the burst's events are too.
	_, err = alice.SendAlert(ctx, intake.Alert{Service: "db", DedupKey: "cpu", Summary: "cpu hot", Severity: "warning"})
	if statusOf(err) != http.StatusForbidden {
		t.Fatalf("read-only token sends an alert: %v", err)
	}
	var forbidden []events.Envelope
	eventually(t, "the 403 in the audit log", func() bool {
		forbidden = auditEvents(t, a, events.TypeAuthDenied, "alice")
		return len(forbidden) > 0
	})
	if len(forbidden) != 1 {
		t.Fatalf("%d records of alice's 403", len(forbidden))
	}
	d := deniedData(t, forbidden[0])
	if d.Reason != events.DenyMissingScope || d.Status != 403 || d.Route != "POST /api/v1/alerts" || d.Scope != token.ScopeIncidentsWrite ||
		d.TokenID != created.ID || d.Principal != "alice" || d.RemoteAddr != "127.0.0.1" || forbidden[0].Actor.ID != "alice" {
		t.Fatalf("403 record %+v by %+v", d, forbidden[0].Actor)
	}

	var burst []events.Envelope
	for _, env := range auditEvents(t, a, events.TypeAuthDenied, "") {
		if deniedData(t, env).Reason == events.DenyMissingToken {
			burst = append(burst, env)
		}
	}
	if len(burst) != 1 {
		t.Fatalf("100 denials in a burst made %d audit records, want 1", len(burst))
	}
	if d := deniedData(t, burst[0]); d.Status != 401 || d.Route != "GET /api/v1/incidents" || d.Scope != token.ScopeIncidentsRead ||
		d.TokenID != "" || d.UserAgent != "scanner/1.0" || d.Suppressed != 0 || burst[0].Actor.ID != "anonymous" {
		t.Fatalf("401 record %+v by %+v", d, burst[0].Actor)
	}

	var uses []events.Envelope
	eventually(t, "alice's token use in the audit log", func() bool {
		uses = auditEvents(t, a, events.TypeTokenUsed, "alice")
		return len(uses) > 0
	})
	var u events.TokenUsed
	if err := uses[0].DecodeData(&u); err != nil {
		t.Fatal(err)
	}
	if len(uses) != 1 || u.TokenID != created.ID || u.Principal != "alice" || u.Uses != 1 || u.Route != "GET /api/v1/incidents" {
		t.Fatalf("%d token.used records, first %+v", len(uses), u)
	}

	// A minute on, the next denial carries the count held back.
	clock.Add(61 * time.Second)
	// A well-formed token no one issued: its id is named, never its secret.
	forged := "fbt_0123456789abcdef_not-a-real-secret" + strings.Repeat("A", 43-len("not-a-real-secret"))
	if st := anonymousGet(t, a, "/api/v1/incidents", forged); st != http.StatusUnauthorized {
		t.Fatalf("bad token: %d", st)
	}
	if st := anonymousGet(t, a, "/api/v1/incidents", ""); st != http.StatusUnauthorized {
		t.Fatalf("no token: %d", st)
	}
	eventually(t, "the held-back count in the audit log", func() bool {
		for _, env := range auditEvents(t, a, events.TypeAuthDenied, "") {
			if d := deniedData(t, env); d.Reason == events.DenyMissingToken && d.Suppressed == 99 {
				return true
			}
		}
		return false
	})
	all := auditEvents(t, a, events.TypeAuthDenied, "")
	if len(all) != 4 {
		t.Fatalf("%d auth.denied records, want the 403, the burst, the bad token and the burst's count", len(all))
	}
	for _, env := range all {
		if d := deniedData(t, env); d.Reason == events.DenyInvalidToken && d.TokenID != "0123456789abcdef" {
			t.Fatalf("bad token record %+v", d)
		}
	}

	// The audit log and the bus hold no secret.
	var list audit.ListJSON
	auditGet(t, a, "/api/v1/audit?limit=1000", &list)
	secret := created.Secret[strings.LastIndex(created.Secret, "_")+1:]
	for _, r := range list.Items {
		for _, s := range []string{secret, a.Token(), "not-a-real-secret"} {
			if strings.Contains(r.Entry, s) {
				t.Fatalf("audit record %d (%s) holds a secret: %s", r.Seq, r.Type, r.Entry)
			}
		}
	}
	n := 0
	for _, typ := range rec.types() {
		if typ == events.TypeAuthDenied {
			n++
		}
	}
	if n != 4 {
		t.Fatalf("%d auth.denied events on the bus, want 4", n)
	}
	rec.validate(t)
	var rep audit.Report
	if st := auditGet(t, a, "/api/v1/audit/verify", &rep); st != http.StatusOK || !rep.OK {
		t.Fatalf("verify: %d %+v", st, rep)
	}
}
