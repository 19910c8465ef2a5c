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
	"github.com/firebreak-dev/firebreak/services/notify/notifytest"
)

func slackMessage(p events.PageRequested) notify.Message {
	p.IncidentID, p.Number, p.Title, p.Severity, p.Service, p.Level, p.Policy = "inc-1", 42, "Disk full", "SEV1", "checkout", 1, "web"
	return notify.Message{Key: "k|slack", Page: p, Attempt: 1, URL: "https://fb.example.com/api/v1/incidents/inc-1"}
}

func TestSlackProvider(t *testing.T) {
	t.Parallel()
	fake := slackfake.New(t, slackfake.Config{})
	dm := notifytest.NewSlackDM(t, fake)
	alice := fake.AddUser(slackfake.User{Name: "alice", Email: "alice@example.com"})
	ops := fake.AddChannel("ops")
	fake.AddChannel("oncall")
	sl := notify.NewSlack(slack.New(fake.Token, slack.OptionAPIURL(dm.APIURL)), "oncall")
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
	msgs := fake.Messages(dm.Channel(alice.ID))
	if dm.Opens() != 2 || len(msgs) != 2 {
		t.Fatalf("DMs: %d opens, %d messages", dm.Opens(), len(msgs))
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
		err := notify.NewSlack(slack.New(fake.Token, slack.OptionAPIURL(dm.APIURL)), "").Send(ctx, slackMessage(events.PageRequested{UserGroup: "S0SRE"}))
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
