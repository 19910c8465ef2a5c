package notify_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/slackfake"
	"github.com/firebreak-dev/firebreak/services/notify"
)

func slackMessage(p events.PageRequested) notify.Message {
	p.IncidentID, p.Number, p.Title, p.Severity, p.Service, p.Level, p.Policy = "inc-1", 42, "Disk full", "SEV1", "checkout", 1, "web"
	return notify.Message{Key: "k|slack", Page: p, Attempt: 1, URL: "https://fb.example.com/api/v1/incidents/inc-1"}
}

func TestSlackProvider(t *testing.T) {
	t.Parallel()
	fake := slackfake.New(t, slackfake.Config{})
	alice := fake.AddUser(slackfake.User{Name: "alice", Email: "alice@example.com"})
	ops := fake.AddChannel("ops")
	fake.AddChannel("oncall")
	sl := notify.NewSlack(slack.New(fake.Token, slack.OptionAPIURL(fake.APIURL)), "oncall")
	ctx := context.Background()

	byID := slackMessage(events.PageRequested{User: "alice", ContactMethod: &events.PageContact{Name: "slack", Type: "slack", Address: alice.ID}})
	if err := sl.Send(ctx, byID); err != nil {
		t.Fatal(err)
	}
	byEmail := slackMessage(events.PageRequested{User: "alice", ContactMethod: &events.PageContact{Name: "slack", Type: "slack", Address: "alice@example.com"}})
	if err := sl.Send(ctx, byEmail); err != nil {
		t.Fatal(err)
	}
	if calls := fake.Calls("users.lookupByEmail"); len(calls) != 1 || calls[0].Params.Get("email") != "alice@example.com" {
		t.Fatalf("lookupByEmail calls %+v", calls)
	}
	msgs := fake.Messages(fake.DM(alice.ID))
	if len(fake.Calls("conversations.open")) != 2 || len(msgs) != 2 {
		t.Fatalf("DMs: %d opens, %d messages", len(fake.Calls("conversations.open")), len(msgs))
	}
	if msgs[0].Text != "[SEV1] INC-42 Disk full" || !strings.Contains(string(msgs[0].Blocks), "Open incident") {
		t.Fatalf("DM %+v", msgs[0])
	}

	if err := sl.Send(ctx, slackMessage(events.PageRequested{Channel: "ops", Target: events.PageTarget{Type: "slack_channel", ID: "ops"}})); err != nil {
		t.Fatal(err)
	}
	if m := fake.Messages(ops); len(m) != 1 || m[0].Text != "[SEV1] INC-42 Disk full" {
		t.Fatalf("channel post %+v", m)
	}
	if err := sl.Send(ctx, slackMessage(events.PageRequested{UserGroup: "S0SRE"})); err != nil {
		t.Fatal(err)
	}
	if m, _ := fake.LastMessage(mustChannel(t, fake, "oncall"), ""); !strings.HasPrefix(m.Text, "<!subteam^S0SRE> ") {
		t.Fatalf("user group post %+v", m)
	}

	t.Run("rate limit honours Retry-After", func(t *testing.T) {
		fake.RateLimit("chat.postMessage", 9, 1)
		err := sl.Send(ctx, byID)
		if err == nil || notify.IsPermanent(err) || notify.RetryAfterOf(err) != 9*time.Second {
			t.Fatalf("429: %v (retry after %s)", err, notify.RetryAfterOf(err))
		}
	})
	for _, tc := range []struct {
		name, method, code string
		permanent          bool
	}{
		{"channel gone", "chat.postMessage", "channel_not_found", true},
		{"token revoked", "chat.postMessage", "invalid_auth", true},
		{"slack trouble", "chat.postMessage", "internal_error", false},
		{"unknown email", "users.lookupByEmail", "users_not_found", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake.FailNext(tc.method, tc.code)
			m := byID
			if tc.method == "users.lookupByEmail" {
				m = byEmail
			}
			err := sl.Send(ctx, m)
			if err == nil || notify.IsPermanent(err) != tc.permanent || !strings.Contains(err.Error(), tc.code) {
				t.Fatalf("%s: %v (permanent %v)", tc.code, err, notify.IsPermanent(err))
			}
		})
	}
	t.Run("user group without a default channel", func(t *testing.T) {
		err := notify.NewSlack(slack.New(fake.Token, slack.OptionAPIURL(fake.APIURL)), "").Send(ctx, slackMessage(events.PageRequested{UserGroup: "S0SRE"}))
		if !notify.IsPermanent(err) {
			t.Fatalf("%v", err)
		}
	})
}

func mustChannel(t *testing.T, fake *slackfake.Server, name string) string {
	t.Helper()
	c, ok := fake.Channel(name)
	if !ok {
		t.Fatalf("no channel %s", name)
	}
	return c.ID
}

// TestSlackRetryFindsEarlierPost: each page carries its delivery key in
// the message metadata; a retry whose earlier attempt got through (its
// answer lost) finds that message, by channel id or by name, and posts
// nothing more. A retry that cannot look posts again.
func TestSlackRetryFindsEarlierPost(t *testing.T) {
	t.Parallel()
	fake := slackfake.New(t, slackfake.Config{})
	alice := fake.AddUser(slackfake.User{Name: "alice", Email: "alice@example.com"})
	ops := fake.AddChannel("ops")
	sl := notify.NewSlack(slack.New(fake.Token, slack.OptionAPIURL(fake.APIURL)), "")
	ctx := context.Background()

	for _, tc := range []struct {
		name    string
		page    events.PageRequested
		channel func() string
	}{
		{"by name", events.PageRequested{Channel: "#ops"}, func() string { return ops }},
		{"by id", events.PageRequested{Channel: ops}, func() string { return ops }},
		{"direct message", events.PageRequested{User: "alice", ContactMethod: &events.PageContact{Name: "slack", Type: "slack", Address: alice.ID}},
			func() string { return fake.DM(alice.ID) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := slackMessage(tc.page)
			m.Key = "key-" + tc.name
			if err := sl.Send(ctx, m); err != nil {
				t.Fatal(err)
			}
			before := len(fake.Messages(tc.channel()))
			last, _ := fake.LastMessage(tc.channel(), "")
			if !strings.Contains(string(last.Metadata), `"delivery_key":"key-`+tc.name+`"`) {
				t.Fatalf("metadata %s", last.Metadata)
			}
			m.Attempt = 2
			if err := sl.Send(ctx, m); err != nil {
				t.Fatal(err)
			}
			if n := len(fake.Messages(tc.channel())); n != before {
				t.Fatalf("the retry posted again: %d messages, want %d", n, before)
			}
			other := m
			other.Key = "another-" + tc.name
			if err := sl.Send(ctx, other); err != nil {
				t.Fatal(err)
			}
			if n := len(fake.Messages(tc.channel())); n != before+1 {
				t.Fatalf("a retry of another page: %d messages, want %d", n, before+1)
			}
		})
	}
	t.Run("cannot look", func(t *testing.T) {
		m := slackMessage(events.PageRequested{Channel: ops})
		m.Key = "no-history"
		if err := sl.Send(ctx, m); err != nil {
			t.Fatal(err)
		}
		before := len(fake.Messages(ops))
		fake.FailNext("conversations.history", "missing_scope")
		m.Attempt = 3
		if err := sl.Send(ctx, m); err != nil {
			t.Fatal(err)
		}
		if n := len(fake.Messages(ops)); n != before+1 {
			t.Fatalf("%d messages, want %d: without history the page is sent again", n, before+1)
		}
	})
}
