package notify_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/services/notify"
)

// hookServer is a webhook receiver that checks signatures as a user's
// endpoint would and answers with the next queued status.
type hookServer struct {
	*httptest.Server
	secret string

	mu       sync.Mutex
	statuses []int // answered in order; 200 when empty
	reqs     []hookRequest
}

type hookRequest struct {
	header http.Header
	body   []byte
	// verified is whether the signature checked out with secret.
	verified bool
}

func newHookServer(t testing.TB, secret string) *hookServer {
	h := &hookServer{secret: secret}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		verified := notify.Verify(h.secret, r.Header.Get(notify.HeaderSignature), body, time.Now(), 5*time.Minute) == nil
		h.mu.Lock()
		h.reqs = append(h.reqs, hookRequest{header: r.Header.Clone(), body: body, verified: verified})
		status := http.StatusOK
		if len(h.statuses) > 0 {
			status, h.statuses = h.statuses[0], h.statuses[1:]
		}
		h.mu.Unlock()
		if status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "7")
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, http.StatusText(status))
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hookServer) answer(statuses ...int) {
	h.mu.Lock()
	h.statuses = append(h.statuses, statuses...)
	h.mu.Unlock()
}

func (h *hookServer) requests() []hookRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hookRequest(nil), h.reqs...)
}

func hookMessage(url string) notify.Message {
	return notify.Message{Key: "inc-1/1/alice/hook|webhook", Attempt: 2,
		Page: events.PageRequested{IncidentID: "inc-1", Number: 42, Title: "Disk full", Severity: "SEV1", Service: "checkout",
			Level: 1, Policy: "web", User: "alice", IdempotencyKey: "inc-1/1/alice/hook",
			ContactMethod: &events.PageContact{Name: "hook", Type: "webhook", Address: url}}}
}

func TestWebhookSignsAndClassifies(t *testing.T) {
	t.Parallel()
	const secret = "whsec-test-0123456789"
	hs := newHookServer(t, secret)
	now := time.Unix(1_800_000_000, 0)
	wh := notify.NewWebhook(nil, secret, nil, func() time.Time { return now })
	// The URL carries a token, as many webhook URLs do: no error may quote it.
	url := hs.URL + "/hooks/alice?token=url-secret-token"
	ctx := context.Background()
	// The test's clock is far from the receiver's: check the MAC here and
	// leave timestamps to TestVerify.
	if err := wh.Send(ctx, hookMessage(url)); err != nil {
		t.Fatal(err)
	}
	req := hs.requests()[0]
	ts := req.header.Get(notify.HeaderTimestamp)
	if ts != strconv.FormatInt(now.Unix(), 10) {
		t.Fatalf("timestamp header %q", ts)
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts + "." + string(req.body)))
	if want := "t=" + ts + ",v1=" + hex.EncodeToString(m.Sum(nil)); req.header.Get(notify.HeaderSignature) != want {
		t.Fatalf("signature %q, want %q", req.header.Get(notify.HeaderSignature), want)
	}
	if k := req.header.Get("Idempotency-Key"); k != "inc-1/1/alice/hook|webhook" {
		t.Fatalf("Idempotency-Key %q", k)
	}
	if ct := req.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q", ct)
	}
	var p notify.WebhookPayload
	if err := json.Unmarshal(req.body, &p); err != nil {
		t.Fatal(err)
	}
	if p.Type != "page" || p.IdempotencyKey != "inc-1/1/alice/hook|webhook" || p.Attempt != 2 || p.Page.Number != 42 ||
		p.Summary != "[SEV1] INC-42 Disk full" || p.Page.ContactMethod == nil || p.Page.ContactMethod.Address != "" {
		t.Fatalf("payload %+v (the address must be left out)", p)
	}

	cases := []struct {
		status     int
		permanent  bool
		retryAfter bool
	}{
		{http.StatusInternalServerError, false, false},
		{http.StatusServiceUnavailable, false, false},
		{http.StatusRequestTimeout, false, false},
		{http.StatusTooManyRequests, false, true},
		{http.StatusBadRequest, true, false},
		{http.StatusNotFound, true, false},
		{http.StatusGone, true, false},
		{http.StatusMovedPermanently, true, false}, // redirects are not followed
	}
	for _, tc := range cases {
		t.Run(strconv.Itoa(tc.status), func(t *testing.T) {
			hs.answer(tc.status)
			err := wh.Send(ctx, hookMessage(url))
			if err == nil || notify.IsPermanent(err) != tc.permanent {
				t.Fatalf("status %d: %v (permanent %v)", tc.status, err, notify.IsPermanent(err))
			}
			if !strings.Contains(err.Error(), strconv.Itoa(tc.status)) || strings.Contains(err.Error(), "url-secret-token") {
				t.Fatalf("reason %q: must name the status and not the URL", err)
			}
			if got := notify.RetryAfterOf(err); tc.retryAfter != (got == 7*time.Second) {
				t.Fatalf("Retry-After %s", got)
			}
		})
	}

	t.Run("unreachable is retried", func(t *testing.T) {
		dead := httptest.NewServer(http.NotFoundHandler())
		dead.Close()
		err := wh.Send(ctx, hookMessage(dead.URL+"/x?token=url-secret-token"))
		if err == nil || notify.IsPermanent(err) || strings.Contains(err.Error(), "url-secret-token") {
			t.Fatalf("unreachable: %v", err)
		}
	})
	t.Run("timeout is retried", func(t *testing.T) {
		block := make(chan struct{})
		slow := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-block }))
		defer slow.Close()
		defer close(block)
		tctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		err := wh.Send(tctx, hookMessage(slow.URL))
		if err == nil || notify.IsPermanent(err) || !strings.Contains(err.Error(), "timed out") {
			t.Fatalf("timeout: %v", err)
		}
	})
	t.Run("per-contact secret", func(t *testing.T) {
		own := notify.NewWebhook(nil, secret, map[string]string{url: "own-secret"}, time.Now)
		before := len(hs.requests())
		if err := own.Send(ctx, hookMessage(url)); err != nil {
			t.Fatal(err)
		}
		r := hs.requests()[before]
		if notify.Verify("own-secret", r.header.Get(notify.HeaderSignature), r.body, time.Now(), time.Minute) != nil {
			t.Fatal("not signed with the contact's own secret")
		}
	})
	t.Run("unsigned without a secret", func(t *testing.T) {
		before := len(hs.requests())
		if err := notify.NewWebhook(nil, "", nil, nil).Send(ctx, hookMessage(url)); err != nil {
			t.Fatal(err)
		}
		if r := hs.requests()[before]; r.header.Get(notify.HeaderSignature) != "" {
			t.Fatal("signature without a secret")
		}
	})
}

func TestVerify(t *testing.T) {
	t.Parallel()
	body := []byte(`{"type":"page"}`)
	now := time.Unix(1_800_000_000, 0)
	good := notify.Sign("s", now.Unix(), body)
	for _, tc := range []struct {
		name, secret, header string
		body                 []byte
		at                   time.Time
		want                 error
	}{
		{"good", "s", good, body, now, nil},
		{"rotated secrets", "s", good + ",v1=" + strings.Repeat("00", 32), body, now, nil},
		{"wrong secret", "t", good, body, now, notify.ErrSignatureMismatch},
		{"changed body", "s", good, []byte(`{"type":"pagf"}`), now, notify.ErrSignatureMismatch},
		{"stale", "s", good, body, now.Add(6 * time.Minute), notify.ErrSignatureStale},
		{"future", "s", good, body, now.Add(-6 * time.Minute), notify.ErrSignatureStale},
		{"empty", "s", "", body, now, notify.ErrSignatureMalformed},
		{"no mac", "s", "t=1800000000", body, now, notify.ErrSignatureMalformed},
		{"short mac", "s", "t=1800000000,v1=abcd", body, now, notify.ErrSignatureMalformed},
		{"two timestamps", "s", "t=1,t=2,v1=" + strings.Repeat("00", 32), body, now, notify.ErrSignatureMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := notify.Verify(tc.secret, tc.header, tc.body, tc.at, 5*time.Minute); err != tc.want {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
}

func FuzzParseSignature(f *testing.F) {
	f.Add("t=1800000000,v1=" + strings.Repeat("ab", 32))
	f.Add("t=1,v1=00,v1=" + strings.Repeat("cd", 32))
	f.Add("v1=zz")
	f.Add("t=-1")
	f.Add(",,,=")
	f.Fuzz(func(t *testing.T, header string) {
		ts, macs, err := notify.ParseSignature(header)
		if err != nil {
			return
		}
		if ts < 0 || len(macs) == 0 {
			t.Fatalf("accepted %q as t=%d with %d MACs", header, ts, len(macs))
		}
		for _, m := range macs {
			if len(m) != sha256.Size {
				t.Fatalf("accepted a %d-byte MAC from %q", len(m), header)
			}
		}
		// Verify never panics on what ParseSignature accepts.
		_ = notify.Verify("secret", header, []byte(header), time.Unix(ts, 0), time.Minute)
	})
}

func TestTeamsAdaptiveCard(t *testing.T) {
	t.Parallel()
	var (
		mu   sync.Mutex
		got  []map[string]any
		code = http.StatusAccepted // what Workflows answer
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		if r.Header.Get("Content-Type") != "application/json" || json.NewDecoder(r.Body).Decode(&body) != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		mu.Lock()
		got = append(got, body)
		c := code
		mu.Unlock()
		w.WriteHeader(c)
	}))
	defer srv.Close()
	teams := notify.NewTeams(nil)
	m := hookMessage(srv.URL + "/workflows/abc?sig=teams-url-signature")
	m.Page.ContactMethod.Type = "teams"
	m.URL = "https://fb.example.com/api/v1/incidents/inc-1"
	if err := teams.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("%d posts", len(got))
	}
	b, _ := json.Marshal(got[0])
	var msg notify.TeamsMessage
	if err := json.Unmarshal(b, &msg); err != nil {
		t.Fatal(err)
	}
	if msg.Type != "message" || len(msg.Attachments) != 1 {
		t.Fatalf("message %s", b)
	}
	a := msg.Attachments[0]
	if a.ContentType != "application/vnd.microsoft.card.adaptive" || a.Content.Type != "AdaptiveCard" ||
		a.Content.Schema != "http://adaptivecards.io/schemas/adaptive-card.json" || a.Content.Version == "" {
		t.Fatalf("attachment %s", b)
	}
	if !strings.Contains(string(b), `"INC-42: Disk full"`) || !strings.Contains(string(b), `"Action.OpenUrl"`) ||
		!strings.Contains(string(b), m.URL) || !strings.Contains(string(b), `"contentUrl":null`) {
		t.Fatalf("card lacks the title, severity or link: %s", b)
	}
	mu.Lock()
	code = http.StatusBadRequest
	mu.Unlock()
	err := teams.Send(context.Background(), m)
	if !notify.IsPermanent(err) || strings.Contains(err.Error(), "teams-url-signature") {
		t.Fatalf("400 from Teams: %v", err)
	}
}
