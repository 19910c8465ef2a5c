package audit_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/db/dbtest"
	"github.com/firebreak-dev/firebreak/internal/fault"
	"github.com/firebreak-dev/firebreak/internal/httpapi"
	"github.com/firebreak-dev/firebreak/services/audit"
	"github.com/firebreak-dev/firebreak/services/audit/store/sqlite"
	"github.com/firebreak-dev/firebreak/services/audit/storetest"
)

func newService(t testing.TB, every int64) (*audit.Service, audit.Store) {
	t.Helper()
	store := sqlite.New(dbtest.SQLite(t, "outbox", "audit"))
	svc, err := audit.New(store, nil, audit.Config{Signer: storetest.Seed(), CheckpointEvery: every, Settle: -1, CauseWait: -1})
	if err != nil {
		t.Fatal(err)
	}
	return svc, store
}

func pub(t testing.TB) ed25519.PublicKey {
	k, err := audit.ParsePublicKey(storetest.Seed().PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func recordN(t *testing.T, svc *audit.Service, n int) []events.Envelope {
	t.Helper()
	var envs []events.Envelope
	for i := range n {
		env := storetest.Env(t, i, fmt.Sprintf("inc-%d", i%2))
		if err := svc.Record(t.Context(), env); err != nil {
			t.Fatal(err)
		}
		envs = append(envs, env)
	}
	return envs
}

// export writes a JSONL export of records in [from, to] the way the CLI
// does: records, the checkpoints among them, and the one just before.
func export(t *testing.T, store audit.Store, from, to int64) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := audit.NewJSONLWriter(&buf, audit.ExportHeader{ExportedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	cps, _ := store.Checkpoints(t.Context(), from-1, to)
	recs, _ := store.Range(t.Context(), from, to, audit.Filter{})
	i := 0
	for i < len(cps) && cps[i].Seq < from {
		_ = w.Checkpoint(cps[i])
		i++
	}
	for _, r := range recs {
		_ = w.Record(r)
		for i < len(cps) && cps[i].Seq == r.Seq {
			_ = w.Checkpoint(cps[i])
			i++
		}
	}
	return buf.Bytes()
}

func TestRecordCheckpointsAndRedelivery(t *testing.T) {
	t.Parallel()
	svc, store := newService(t, 3)
	envs := recordN(t, svc, 7)
	if err := svc.Record(t.Context(), envs[2]); err != nil { // redelivered
		t.Fatal(err)
	}
	cps, err := store.Checkpoints(t.Context(), 0, 0)
	if err != nil || len(cps) != 2 || cps[0].Seq != 3 || cps[1].Seq != 6 {
		t.Fatalf("checkpoints = %+v, %v", cps, err)
	}
	for _, c := range cps {
		if err := c.VerifySignature(pub(t)); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := svc.Verify(t.Context())
	if err != nil || !rep.OK || rep.Records != 7 || rep.SignedThrough != 6 {
		t.Fatalf("verify = %+v, %v", rep, err)
	}
	c, err := svc.Checkpoint(t.Context())
	if err != nil || c.Seq != 7 {
		t.Fatalf("checkpoint on demand = %+v, %v", c, err)
	}
	// A checkpoint signed by another key does not verify.
	other, _ := audit.NewSigner(bytes.Repeat([]byte{1}, 32))
	if err := other.Sign(7, c.Hash, time.Now()).VerifySignature(pub(t)); err == nil {
		t.Fatal("foreign signature verified")
	}
	bad := storetest.Env(t, 99, "inc-1")
	bad.Data = json.RawMessage(`{"note":"a","note":"b"}`) // no canonical form
	if err := svc.Record(t.Context(), bad); fault.KindOf(err) != fault.Invalid {
		t.Fatalf("bad envelope: %v", err)
	}
}

func TestExportVerifiesOffline(t *testing.T) {
	t.Parallel()
	svc, store := newService(t, 4)
	recordN(t, svc, 10)
	full := export(t, store, 1, 10)
	rep, err := audit.VerifyExport(bytes.NewReader(full), pub(t))
	if err != nil || !rep.OK || rep.Records != 10 || rep.Checkpoints != 2 || rep.SignedThrough != 8 {
		t.Fatalf("verify export = %+v, %v", rep, err)
	}
	// A slice of the log pinned by the checkpoint before it.
	part := export(t, store, 5, 8)
	rep, err = audit.VerifyExport(bytes.NewReader(part), pub(t))
	if err != nil || !rep.OK || rep.From != 5 || rep.To != 8 || rep.SignedThrough != 8 {
		t.Fatalf("verify part = %+v, %v", rep, err)
	}

	lines := strings.Split(strings.TrimSpace(string(full)), "\n")
	tamper := map[string]func() string{
		"modified note": func() string {
			return strings.Replace(string(full), `note 2\"`, `note 9\"`, 1)
		},
		"deleted record": func() string {
			return strings.Join(append(append([]string{}, lines[:3]...), lines[4:]...), "\n")
		},
		"swapped records": func() string {
			l := append([]string{}, lines...)
			l[2], l[3] = l[3], l[2]
			return strings.Join(l, "\n")
		},
		"forged checkpoint": func() string {
			return strings.Replace(string(full), `"signature":"`, `"signature":"AAAA`, 1)
		},
	}
	for name, f := range tamper {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			doc := f()
			if doc == string(full) {
				t.Fatal("tampering changed nothing")
			}
			rep, err := audit.VerifyExport(strings.NewReader(doc), pub(t))
			if err == nil && rep.OK {
				t.Fatalf("tampered export verified: %+v", rep)
			}
		})
	}
}

func TestRetentionKeepsVerifying(t *testing.T) {
	t.Parallel()
	svc, store := newService(t, 5)
	recordN(t, svc, 12)
	c, n, err := svc.Archive(t.Context(), time.Now().Add(time.Hour))
	if err != nil || n != 10 || c.Seq != 10 {
		t.Fatalf("archive = %+v, %d, %v", c, n, err)
	}
	recordN(t, svc, 1)
	rep, err := svc.Verify(t.Context())
	if err != nil || !rep.OK || rep.From != 11 || rep.To != 13 {
		t.Fatalf("verify after archive = %+v, %v", rep, err)
	}
	// Nothing older than the past: nothing to archive.
	if _, n, err := svc.Archive(t.Context(), time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Fatalf("archive nothing = %d, %v", n, err)
	}
	// The export of what remains verifies from the anchor checkpoint.
	rep, err = audit.VerifyExport(bytes.NewReader(export(t, store, 11, 13)), pub(t))
	if err != nil || !rep.OK || rep.Records != 3 {
		t.Fatalf("verify export after archive = %+v, %v", rep, err)
	}
}

// scoped authenticates "reader" with audit:read and "other" without.
type scoped struct{}

func (scoped) Authenticate(_ context.Context, tok string) (httpapi.Principal, error) {
	switch tok {
	case "reader":
		return httpapi.Principal{ID: "r", Kind: events.ActorUser, Scopes: []string{httpapi.ScopeAuditRead}}, nil
	case "other":
		return httpapi.Principal{ID: "o", Kind: events.ActorUser, Scopes: []string{httpapi.ScopeIncidentsRead}}, nil
	}
	return httpapi.Principal{}, &fault.Error{Kind: fault.Unauthorized, Code: "bad_token", Message: "bad token"}
}

func TestAPI(t *testing.T) {
	t.Parallel()
	svc, _ := newService(t, 1000)
	recordN(t, svc, 5)
	srv, err := httpapi.New(scoped{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	svc.Routes(srv, nil)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	get := func(tok, path string) (int, []byte) {
		req, _ := http.NewRequest(http.MethodGet, ts.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	seqs := func(b []byte) string {
		var l audit.ListJSON
		if err := json.Unmarshal(b, &l); err != nil {
			t.Fatal(err)
		}
		var s []string
		for _, r := range l.Items {
			s = append(s, fmt.Sprint(r.Seq))
		}
		return strings.Join(s, ",") + ";" + l.NextCursor
	}
	tests := []struct {
		name, tok, path string
		status          int
		want            string // seqs;cursor, or a substring of the error
	}{
		{"all", "reader", "/api/v1/audit", 200, "1,2,3,4,5;"},
		{"page", "reader", "/api/v1/audit?limit=2", 200, "1,2;3"},
		{"next page", "reader", "/api/v1/audit?limit=2&cursor=3", 200, "3,4;5"},
		{"actor", "reader", "/api/v1/audit?actor=bob", 200, "2,4;"},
		{"incident", "reader", "/api/v1/audit?incident=inc-0", 200, "1,3,5;"},
		{"type", "reader", "/api/v1/audit?type=incident.resolved", 200, ";"},
		{"since", "reader", "/api/v1/audit?since=2000-01-01T00:00:00Z&until=2999-01-01T00:00:00Z", 200, "1,2,3,4,5;"},
		{"relative since", "reader", "/api/v1/audit?since=1h", 200, "1,2,3,4,5;"},
		{"relative until", "reader", "/api/v1/audit?since=30d&until=1h", 200, ";"},
		{"bad since", "reader", "/api/v1/audit?since=yesterday", 400, `"field":"since"`},
		{"bad relative since", "reader", "/api/v1/audit?since=1.5h", 400, `a whole number and a unit`},
		{"bad until", "reader", "/api/v1/audit?until=2026-13-01", 400, `"field":"until"`},
		{"until before since", "reader", "/api/v1/audit?since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z", 400, `"field":"until"`},
		{"bad limit", "reader", "/api/v1/audit?limit=0", 400, `"field":"limit"`},
		{"bad cursor", "reader", "/api/v1/audit?cursor=x", 400, `"field":"cursor"`},
		{"no audit:read", "other", "/api/v1/audit", 403, "audit:read"},
		{"no audit:read verify", "other", "/api/v1/audit/verify", 403, "audit:read"},
		{"no token", "", "/api/v1/audit", 401, "bad token"},
		{"verify", "reader", "/api/v1/audit/verify", 200, `"ok":true`},
		{"checkpoints", "reader", "/api/v1/audit/checkpoints", 200, `"public_key":"` + storetest.Seed().PublicKey()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st, b := get(tt.tok, tt.path)
			if st != tt.status {
				t.Fatalf("status %d, want %d: %s", st, tt.status, b)
			}
			if st == 200 && strings.HasPrefix(tt.path, "/api/v1/audit?") || tt.path == "/api/v1/audit" && st == 200 {
				if got := seqs(b); got != tt.want {
					t.Fatalf("got %q, want %q", got, tt.want)
				}
				return
			}
			if !strings.Contains(string(b), tt.want) {
				t.Fatalf("body %s lacks %q", b, tt.want)
			}
		})
	}
}
