package notify_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/fault"
	"github.com/firebreak-dev/firebreak/services/notify"
)

const subscriberSecret = "subscriber-secret-for-tests"

// eachWithMail runs f on each engine with the webhook provider and the
// real email provider sending to a real SMTP server of its own,
// subscriptions on and a public URL.
func eachWithMail(t *testing.T, f func(t *testing.T, h *harness, ms *mailServer)) {
	t.Helper()
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			ms := startMailServer(t, true)
			c := &clock{t: t0}
			store, out := e.open(t, c.Now)
			email, err := notify.NewEmail(notify.SMTPConfig{Host: ms.host, Port: ms.port, Username: "pager", Password: "s3cret-pw",
				From: "firebreak <status@example.com>", TLS: ms.roots}, c.Now)
			if err != nil {
				t.Fatal(err)
			}
			svc, err := notify.New(store, []notify.Provider{notify.NewWebhook(nil, "whsec", nil, c.Now), email}, nil,
				notify.Config{SubscriberSecret: subscriberSecret, PublicURL: "https://status.example.com/", Now: c.Now,
					WebhookSecret: "whsec", Jitter: func() float64 { return 0.5 }})
			if err != nil {
				t.Fatal(err)
			}
			h := &harness{t: t, store: store, svc: svc, out: out, clock: c, hook: newHookServer(t, "whsec")}
			t.Cleanup(h.validate)
			f(t, h, ms)
		})
	}
}

func (h *harness) subscribe(kind, addr, service string, topics ...string) (notify.Subscriber, string) {
	h.t.Helper()
	sub, link, err := h.svc.Subscribe(context.Background(), notify.SubscriberInput{Kind: kind, Address: addr, Topics: topics, Service: service})
	if err != nil {
		h.t.Fatalf("subscribe %s: %v", addr, err)
	}
	return sub, link
}

func (h *harness) publish(env events.Envelope) {
	h.t.Helper()
	if err := h.svc.HandlePublished(context.Background(), env); err != nil {
		h.t.Fatalf("handle %s: %v", env.Type, err)
	}
}

func statusUpdate(id, audience, service string) events.Envelope {
	return events.MustNew(events.TypeStatusUpdatePublished, "postmortem", incID, events.System("postmortem"), events.StatusUpdatePublished{
		UpdateID: id, IncidentID: incID, Number: 42, Service: service, Audience: audience, Status: "monitoring",
		Title: "Checkout errors " + id, Body: "A fix is in place; we are watching the error rate.", ApprovedBy: "carol", PublishedAt: t0})
}

func mailsTo(ms *mailServer, to string) []received {
	var out []received
	for _, m := range ms.received() {
		if m.to == to {
			out = append(out, m)
		}
	}
	return out
}

var tokenRE = regexp.MustCompile(`/unsubscribe\?token=([A-Za-z0-9_-]{43})`)

func TestStatusUpdateReachesSubscribersOnce(t *testing.T) {
	t.Parallel()
	eachWithMail(t, func(t *testing.T, h *harness, ms *mailServer) {
		ctx := context.Background()
		h.subscribe(notify.SubscriberEmail, "ann@example.com", "", notify.TopicStatus)
		bobSub, _ := h.subscribe(notify.SubscriberEmail, "bob@example.com", "checkout", notify.TopicStatus, notify.TopicAdvisories)
		h.subscribe(notify.SubscriberEmail, "adv@example.com", "", notify.TopicAdvisories)      // other topic
		h.subscribe(notify.SubscriberEmail, "search@example.com", "search", notify.TopicStatus) // other service
		hook, _ := h.subscribe(notify.SubscriberWebhook, h.hook.URL+"/status", "", notify.TopicStatus)

		// An external update, delivered twice (a redelivery).
		ext := statusUpdate("su-1", "external", "checkout")
		h.publish(ext)
		h.publish(ext)
		h.fireDue()
		h.publish(ext) // and once more after the mail went out
		h.fireDue()
		// An internal update goes to nobody.
		h.publish(statusUpdate("su-2", "internal", "checkout"))
		h.fireDue()

		got := ms.received()
		if len(got) != 2 {
			t.Fatalf("mail server received %d messages, want 2 (ann, bob once each): %+v", len(got), got)
		}
		for _, to := range []string{"ann@example.com", "bob@example.com"} {
			ms := mailsTo(ms, to)
			if len(ms) != 1 {
				t.Fatalf("%s received %d messages, want 1", to, len(ms))
			}
			m := ms[0].data
			for _, want := range []string{"Subject: [Monitoring] Checkout errors su-1\r\n", "A fix is in place; we are watching the error rate.",
				"https://status.example.com/api/v1/status/feed.json", "Unsubscribe: https://status.example.com/unsubscribe?token=",
				"List-Unsubscribe: <https://status.example.com/unsubscribe?token=", "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"} {
				if !strings.Contains(m, want) {
					t.Errorf("mail to %s lacks %q:\n%s", to, want, m)
				}
			}
			if strings.Contains(m, "su-2") {
				t.Errorf("the internal update reached %s", to)
			}
		}
		reqs := h.hook.requests()
		if len(reqs) != 1 || reqs[0].header.Get(notify.HeaderEvent) != "status_update" {
			t.Fatalf("webhook subscriber: %d requests %+v", len(reqs), reqs)
		}
		// Signed at the fake clock's time.
		if err := notify.Verify("whsec", reqs[0].header.Get(notify.HeaderSignature), reqs[0].body, t0, time.Minute); err != nil {
			t.Fatalf("webhook signature: %v", err)
		}
		var p notify.NoticePayload
		if err := json.Unmarshal(reqs[0].body, &p); err != nil {
			t.Fatal(err)
		}
		if p.Type != "status_update" || p.EventType != events.TypeStatusUpdatePublished || !strings.Contains(string(p.Data), `"update_id":"su-1"`) || strings.Contains(string(p.Data), "carol") ||
			p.IdempotencyKey != notify.NoticeKey(ext.ID, hook.ID) || !strings.Contains(p.UnsubscribeURL, "/unsubscribe?token=") {
			t.Fatalf("webhook payload %s", reqs[0].body)
		}
		if d := h.delivery(notify.NoticeKey(ext.ID, hook.ID)); d.Status != notify.StatusSent || d.Target != "subscriber:"+hook.ID ||
			d.IncidentID != incID || d.Number != 42 {
			t.Fatalf("webhook delivery %+v", d)
		}
		if len(h.emitted()) != 0 {
			t.Fatalf("notices emitted %v; notification.sent/failed are for pages", types(h.emitted()))
		}

		// Ann follows the unsubscribe link in her mail: no more mail.
		m := tokenRE.FindStringSubmatch(mailsTo(ms, "ann@example.com")[0].data)
		if m == nil {
			t.Fatal("no unsubscribe token in ann's mail")
		}
		if err := h.svc.Unsubscribe(ctx, m[1]); err != nil {
			t.Fatalf("unsubscribe: %v", err)
		}
		if err := h.svc.Unsubscribe(ctx, m[1]); !errors.Is(err, notify.ErrBadUnsubscribeToken) {
			t.Fatalf("second unsubscribe: %v, want ErrBadUnsubscribeToken", err)
		}
		h.publish(statusUpdate("su-3", "external", "checkout"))
		h.fireDue()
		// Bob unsubscribes after su-4 was queued for him but before it went.
		su4 := statusUpdate("su-4", "external", "checkout")
		h.publish(su4)
		bob := tokenRE.FindStringSubmatch(mailsTo(ms, "bob@example.com")[0].data)
		if err := h.svc.Unsubscribe(ctx, bob[1]); err != nil {
			t.Fatal(err)
		}
		h.fireDue()
		if n := len(mailsTo(ms, "ann@example.com")); n != 1 {
			t.Fatalf("ann received %d messages after unsubscribing, want 1 in all", n)
		}
		if n := len(mailsTo(ms, "bob@example.com")); n != 2 {
			t.Fatalf("bob received %d messages, want 2 (su-1, su-3; not su-4 queued before he unsubscribed)", n)
		}
		if d := h.delivery(notify.NoticeKey(su4.ID, bobSub.ID)); d.Status != notify.StatusFailed || !strings.Contains(d.Reason, "unsubscribed") {
			t.Fatalf("su-4 to bob: %+v", d)
		}
		subs, err := h.svc.Subscribers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var addrs []string
		for _, s := range subs {
			addrs = append(addrs, s.Address)
		}
		if slices.Contains(addrs, "ann@example.com") || slices.Contains(addrs, "bob@example.com") || len(addrs) != 3 {
			t.Fatalf("subscribers after unsubscribing: %v", addrs)
		}
	})
}

func TestAdvisoryReachesMatchingSubscribers(t *testing.T) {
	t.Parallel()
	eachWithMail(t, func(t *testing.T, h *harness, ms *mailServer) {
		h.subscribe(notify.SubscriberEmail, "all@example.com", "", notify.TopicAdvisories)
		h.subscribe(notify.SubscriberEmail, "svc@example.com", "checkout", notify.TopicAdvisories)
		h.subscribe(notify.SubscriberEmail, "prod@example.com", "web", notify.TopicAdvisories)
		h.subscribe(notify.SubscriberEmail, "other@example.com", "search", notify.TopicAdvisories)
		h.subscribe(notify.SubscriberEmail, "status@example.com", "", notify.TopicStatus)
		at := t0
		env := events.MustNew(events.TypeVulnNoticePublished, "vuln", "v-1", events.System("vuln"), events.VulnNotice{
			NoticeID: "n-1", VulnID: "v-1", Title: "Security advisory: HTTP/2 rapid reset in web", Body: "What happened: …",
			URL: "/api/v1/advisories/n-1", ApprovedBy: "carol", Published: &at, Product: "web", Service: "checkout"})
		h.publish(env)
		h.publish(env)
		h.fireDue()
		var to []string
		for _, m := range ms.received() {
			to = append(to, m.to)
			for _, want := range []string{"Subject: [Security advisory] HTTP/2 rapid reset in web\r\n", "What happened: …",
				"More: https://status.example.com/api/v1/advisories/n-1", "/unsubscribe?token="} {
				if !strings.Contains(m.data, want) {
					t.Errorf("advisory to %s lacks %q:\n%s", m.to, want, m.data)
				}
			}
		}
		slices.Sort(to)
		if want := []string{"all@example.com", "prod@example.com", "svc@example.com"}; !slices.Equal(to, want) {
			t.Fatalf("advisory went to %v, want %v", to, want)
		}
	})
}

func TestReporterUpdateEmail(t *testing.T) {
	t.Parallel()
	eachWithMail(t, func(t *testing.T, h *harness, ms *mailServer) {
		h.subscribe(notify.SubscriberEmail, "status@example.com", "", notify.TopicStatus, notify.TopicAdvisories)
		env := events.MustNew(events.TypeVulnReporterUpdateRequested, "vuln", "v-7", events.System("vuln"), events.VulnReporterUpdate{
			TrackingID: "v-7", Status: "triaged", ReporterName: "Mallory", ReporterEmail: "mallory@example.org",
			ChangedAt: t0})
		h.publish(env)
		h.publish(env)
		h.fireDue()
		got := ms.received()
		if len(got) != 1 || got[0].to != "mallory@example.org" {
			t.Fatalf("received %+v, want one mail to the reporter", got)
		}
		for _, want := range []string{"Subject: Your security report v-7: triaged\r\n", "Hello Mallory,", "tracking id v-7", "is now: triaged."} {
			if !strings.Contains(got[0].data, want) {
				t.Errorf("reporter mail lacks %q:\n%s", want, got[0].data)
			}
		}
		if strings.Contains(got[0].data, "unsubscribe") {
			t.Errorf("a reporter update has no unsubscribe link:\n%s", got[0].data)
		}
		d := h.delivery(notify.NoticeKey(env.ID, "reporter"))
		if d.Status != notify.StatusSent || d.Target != "reporter:v-7" || d.Provider != events.ProviderEmail {
			t.Fatalf("delivery %+v", d)
		}
		// A reporter address that is not one is dead-lettered.
		bad := events.MustNew(events.TypeVulnReporterUpdateRequested, "vuln", "v-8", events.System("vuln"), events.VulnReporterUpdate{
			TrackingID: "v-8", Status: "triaged", ReporterEmail: "not an address", ChangedAt: t0})
		if err := h.svc.HandlePublished(context.Background(), bad); fault.KindOf(err) != fault.Invalid {
			t.Fatalf("bad reporter address: err = %v, want invalid", err)
		}
	})
}

func TestNoticesWithoutEmailProviderFail(t *testing.T) {
	t.Parallel()
	each(t, notify.Config{SubscriberSecret: subscriberSecret}, nil, func(t *testing.T, h *harness) {
		sub, _ := h.subscribe(notify.SubscriberEmail, "ann@example.com", "", notify.TopicStatus)
		env := statusUpdate("su-1", "external", "")
		h.publish(env)
		if n := h.fireDue(); n != 0 {
			t.Fatalf("%d timers fired for an undeliverable notice", n)
		}
		d := h.delivery(notify.NoticeKey(env.ID, sub.ID))
		if d.Status != notify.StatusFailed || !strings.Contains(d.Reason, "FIREBREAK_SMTP_HOST") {
			t.Fatalf("delivery %+v", d)
		}
	})
}

func TestUnsubscribeLinkIsDerivedNotStored(t *testing.T) {
	t.Parallel()
	each(t, notify.Config{SubscriberSecret: subscriberSecret, PublicURL: "https://fb.example.com"}, nil, func(t *testing.T, h *harness) {
		sub, link := h.subscribe(notify.SubscriberEmail, "ann@example.com", "", notify.TopicStatus)
		u, err := url.Parse(link)
		if err != nil || u.Host != "fb.example.com" || u.Path != "/unsubscribe" {
			t.Fatalf("link %q", link)
		}
		token := u.Query().Get("token")
		if len(token) != 43 || strings.Contains(sub.TokenHash, token) {
			t.Fatalf("token %q, hash %q", token, sub.TokenHash)
		}
		stored, err := h.store.SubscriberGet(context.Background(), sub.ID)
		if err != nil || stored.TokenHash == "" || stored.TokenHash == token {
			t.Fatalf("stored %+v, %v", stored, err)
		}
		// A token of another secret is unknown.
		other, err := notify.New(h.store, nil, nil, notify.Config{SubscriberSecret: "other", Now: func() time.Time { return t0 }})
		if err != nil {
			t.Fatal(err)
		}
		_, link2, err := other.Subscribe(context.Background(), notify.SubscriberInput{Kind: "email", Address: "zed@example.com", Topics: []string{"status"}})
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(link2, token) {
			t.Fatal("two subscribers share a token")
		}
		// Another valid base64url character in the first place: a
		// well-formed token that no subscriber has.
		forged := []byte(token)
		if forged[0] == 'A' {
			forged[0] = 'B'
		} else {
			forged[0] = 'A'
		}
		if err := h.svc.Unsubscribe(context.Background(), string(forged)); !errors.Is(err, notify.ErrBadUnsubscribeToken) {
			t.Fatalf("forged token: %v", err)
		}
		if err := h.svc.CheckUnsubscribeToken(context.Background(), token); err != nil {
			t.Fatalf("check: %v", err)
		}
	})
}
