package slackfake_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/firebreak-dev/firebreak/internal/slackfake"
)

func newClient(t *testing.T) (*slackfake.Server, *slack.Client) {
	t.Helper()
	fake := slackfake.New(t, slackfake.Config{})
	return fake, slack.New(fake.Token, slack.OptionAPIURL(fake.APIURL))
}

func slackErr(err error) string {
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		return se.Err
	}
	return ""
}

func TestAuth(t *testing.T) {
	t.Parallel()
	fake, api := newClient(t)
	ctx := context.Background()

	resp, err := api.AuthTestContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if resp.UserID != "U0BOT0001" || resp.TeamID != "T00000001" || resp.BotID != "B0BOT0001" {
		t.Errorf("auth.test = %+v", resp)
	}

	for _, tc := range []struct{ name, token, want string }{
		{"wrong token", "xoxb-forged", "invalid_auth"},
		{"no token", "", "not_authed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			bad := slack.New(tc.token, slack.OptionAPIURL(fake.APIURL))
			if _, err := bad.AuthTestContext(ctx); slackErr(err) != tc.want {
				t.Errorf("auth.test error = %v, want %s", err, tc.want)
			}
			if _, _, err := bad.PostMessageContext(ctx, "C1", slack.MsgOptionText("hi", false)); slackErr(err) != tc.want {
				t.Errorf("chat.postMessage error = %v, want %s", err, tc.want)
			}
		})
	}
}

func TestMessagesWithBlocks(t *testing.T) {
	t.Parallel()
	fake, api := newClient(t)
	ctx := context.Background()
	ch := fake.AddChannel("incidents")

	blocks := []slack.Block{
		slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, "INC-7 db down", false, false)),
		slack.NewActionBlock("incident.actions",
			slack.NewButtonBlockElement("incident.acknowledge", "inc-id", slack.NewTextBlockObject(slack.PlainTextType, "Acknowledge", false, false))),
	}
	gotCh, ts, err := api.PostMessageContext(ctx, "#incidents", slack.MsgOptionText("INC-7 db down", false), slack.MsgOptionBlocks(blocks...))
	if err != nil {
		t.Fatal(err)
	}
	if gotCh != ch || ts == "" {
		t.Fatalf("posted to %q ts %q, want %q", gotCh, ts, ch)
	}
	m, ok := fake.LastMessage(ch, ts)
	if !ok || m.Text != "INC-7 db down" || m.User != "U0BOT0001" {
		t.Fatalf("message = %+v, %v", m, ok)
	}
	var got slack.Blocks
	if err := json.Unmarshal(m.Blocks, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.BlockSet) != 2 || got.BlockSet[1].(*slack.ActionBlock).Elements.ElementSet[0].(*slack.ButtonBlockElement).ActionID != "incident.acknowledge" {
		t.Errorf("blocks = %s", m.Blocks)
	}
	if call := fake.Calls("chat.postMessage")[0]; call.Params.Get("channel") != "#incidents" || call.Token != fake.Token || call.Params.Has("token") {
		t.Errorf("recorded call = %+v", call)
	}

	// chat.update keeps the blocks when a call leaves them out, replaces
	// them when given, and clears them with an empty array.
	if _, _, _, err := api.UpdateMessageContext(ctx, ch, ts, slack.MsgOptionText("INC-7 acknowledged", false)); err != nil {
		t.Fatal(err)
	}
	if m, _ := fake.LastMessage(ch, ts); m.Text != "INC-7 acknowledged" || m.Blocks == nil || m.Updates != 1 {
		t.Errorf("after text update: %+v", m)
	}
	_, _, _, err = api.UpdateMessageContext(ctx, ch, ts, slack.MsgOptionBlocks(blocks[0]))
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := fake.LastMessage(ch, ts); !strings.Contains(string(m.Blocks), "header") || strings.Contains(string(m.Blocks), "actions") {
		t.Errorf("after blocks update: %s", m.Blocks)
	}
	if _, _, _, err := api.UpdateMessageContext(ctx, ch, ts, slack.MsgOptionBlocks()); err != nil {
		t.Fatal(err)
	}
	if m, _ := fake.LastMessage(ch, ""); m.Blocks != nil || m.Updates != 3 {
		t.Errorf("after clearing blocks: %+v", m)
	}

	for _, tc := range []struct {
		name      string
		channel   string
		ts        string
		wantError string
	}{
		{"unknown ts", ch, "1.000001", "message_not_found"},
		{"unknown channel", "C99999999", ts, "channel_not_found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, _, err := api.UpdateMessageContext(ctx, tc.channel, tc.ts, slack.MsgOptionText("x", false))
			if slackErr(err) != tc.wantError {
				t.Errorf("error = %v, want %s", err, tc.wantError)
			}
		})
	}
	if _, _, err := api.PostMessageContext(ctx, ch); slackErr(err) != "no_text" {
		t.Errorf("empty message error = %v, want no_text", err)
	}
	if _, _, err := api.PostMessageContext(ctx, "C404", slack.MsgOptionText("x", false)); slackErr(err) != "channel_not_found" {
		t.Errorf("unknown channel error = %v", err)
	}

	// A thread reply.
	_, reply, err := api.PostMessageContext(ctx, ch, slack.MsgOptionText("note", false), slack.MsgOptionTS(ts))
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := fake.LastMessage(ch, reply); m.ThreadTS != ts || reply <= ts {
		t.Errorf("reply %s = %+v", reply, m)
	}
}

func TestJSONBody(t *testing.T) {
	t.Parallel()
	fake := slackfake.New(t, slackfake.Config{})
	ch := fake.AddChannel("incidents")
	body := `{"channel":"` + ch + `","text":"hi","blocks":[{"type":"divider"}]}`
	post := func(auth string) map[string]any {
		req, _ := http.NewRequest(http.MethodPost, fake.APIURL+"chat.postMessage", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if out := post("Bearer " + fake.Token); out["ok"] != true || out["channel"] != ch {
		t.Fatalf("JSON post = %v", out)
	}
	if out := post(""); out["error"] != "not_authed" {
		t.Errorf("JSON post without Authorization = %v", out)
	}
	m, _ := fake.LastMessage(ch, "")
	if string(m.Blocks) != `[{"type":"divider"}]` {
		t.Errorf("blocks = %s", m.Blocks)
	}
	if call := fake.Calls("chat.postMessage")[0]; string(call.JSON) != body || call.Params.Get("text") != "hi" {
		t.Errorf("call = %+v", call)
	}
}

func TestEphemeral(t *testing.T) {
	t.Parallel()
	fake, api := newClient(t)
	ctx := context.Background()
	alice := fake.AddUser(slackfake.User{Name: "alice", Email: "alice@example.com"})
	bob := fake.AddUser(slackfake.User{Name: "bob"})
	ch := fake.AddChannel("incidents", alice.ID)

	ts, err := api.PostEphemeralContext(ctx, ch, alice.ID, slack.MsgOptionText("only you", false))
	if err != nil || ts == "" {
		t.Fatalf("ts %q, err %v", ts, err)
	}
	if m, _ := fake.LastMessage(ch, ts); !m.Ephemeral || m.EphemeralTo != alice.ID || m.Text != "only you" {
		t.Errorf("ephemeral = %+v", m)
	}
	if _, _, _, err := api.UpdateMessageContext(ctx, ch, ts, slack.MsgOptionText("x", false)); slackErr(err) != "message_not_found" {
		t.Errorf("updating an ephemeral message: %v", err)
	}
	if _, err := api.PostEphemeralContext(ctx, ch, bob.ID, slack.MsgOptionText("x", false)); slackErr(err) != "user_not_in_channel" {
		t.Errorf("to a non-member: %v", err)
	}
	if _, err := api.PostEphemeralContext(ctx, ch, "U404", slack.MsgOptionText("x", false)); slackErr(err) != "user_not_found" {
		t.Errorf("to an unknown user: %v", err)
	}
}

func TestConversations(t *testing.T) {
	t.Parallel()
	fake, api := newClient(t)
	ctx := context.Background()
	alice := fake.AddUser(slackfake.User{Name: "alice"})
	bob := fake.AddUser(slackfake.User{Name: "bob"})

	c, err := api.CreateConversationContext(ctx, slack.CreateConversationParams{ChannelName: "inc-42-db-down"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(c.ID, "C") || c.Name != "inc-42-db-down" || !c.IsMember || c.IsPrivate || c.Creator != "U0BOT0001" {
		t.Errorf("created %+v", c)
	}
	priv, err := api.CreateConversationContext(ctx, slack.CreateConversationParams{ChannelName: "inc-43", IsPrivate: true})
	if err != nil || !priv.IsPrivate || priv.ID == c.ID {
		t.Errorf("private channel %+v, %v", priv, err)
	}

	for _, tc := range []struct{ name, channel, want string }{
		{"taken", "inc-42-db-down", "name_taken"},
		{"empty", "", "invalid_name_required"},
		{"upper case", "INC-44", "invalid_name_specials"},
		{"space", "inc 44", "invalid_name_specials"},
		{"punctuation only", "--_", "invalid_name_punctuation"},
		{"81 characters", strings.Repeat("a", 81), "invalid_name_maxlength"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := api.CreateConversationContext(ctx, slack.CreateConversationParams{ChannelName: tc.channel})
			if slackErr(err) != tc.want {
				t.Errorf("error = %v, want %s", err, tc.want)
			}
		})
	}
	if _, err := api.CreateConversationContext(ctx, slack.CreateConversationParams{ChannelName: strings.Repeat("a", 80)}); err != nil {
		t.Errorf("80 characters: %v", err)
	}

	got, err := api.InviteUsersToConversationContext(ctx, c.ID, alice.ID, bob.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.NumMembers != 3 {
		t.Errorf("num_members = %d, want 3", got.NumMembers)
	}
	if ch, _ := fake.Channel(c.ID); strings.Join(ch.Members, ",") != "U0BOT0001,"+alice.ID+","+bob.ID {
		t.Errorf("members = %v", ch.Members)
	}
	for _, tc := range []struct {
		name, channel, user, want string
	}{
		{"already in", c.ID, alice.ID, "already_in_channel"},
		{"unknown user", c.ID, "U404", "user_not_found"},
		{"self", c.ID, "U0BOT0001", "cant_invite_self"},
		{"unknown channel", "C404", alice.ID, "channel_not_found"},
	} {
		t.Run("invite "+tc.name, func(t *testing.T) {
			if _, err := api.InviteUsersToConversationContext(ctx, tc.channel, tc.user); slackErr(err) != tc.want {
				t.Errorf("error = %v, want %s", err, tc.want)
			}
		})
	}

	got, err = api.SetTopicOfConversationContext(ctx, c.ID, "SEV1 · checkout · triggered")
	if err != nil {
		t.Fatal(err)
	}
	if got.Topic.Value != "SEV1 · checkout · triggered" {
		t.Errorf("topic in response = %q", got.Topic.Value)
	}
	if ch, _ := fake.Channel("#inc-42-db-down"); ch.Topic != "SEV1 · checkout · triggered" {
		t.Errorf("topic = %q", ch.Topic)
	}
	if _, err := api.SetTopicOfConversationContext(ctx, c.ID, strings.Repeat("x", 251)); slackErr(err) != "too_long" {
		t.Errorf("long topic: %v", err)
	}
}

func TestUsers(t *testing.T) {
	t.Parallel()
	fake, api := newClient(t)
	ctx := context.Background()
	alice := fake.AddUser(slackfake.User{Name: "alice", RealName: "Alice Example", DisplayName: "alice", Email: "alice@example.com", TZ: "Europe/Berlin"})

	u, err := api.GetUserInfoContext(ctx, alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	if u.ID != alice.ID || u.Name != "alice" || u.RealName != "Alice Example" || u.TZ != "Europe/Berlin" ||
		u.Profile.Email != "alice@example.com" || u.Profile.DisplayName != "alice" {
		t.Errorf("users.info = %+v", u)
	}
	if _, err := api.GetUserInfoContext(ctx, "U404"); slackErr(err) != "user_not_found" {
		t.Errorf("unknown user: %v", err)
	}

	u, err = api.GetUserByEmailContext(ctx, "Alice@Example.com")
	if err != nil || u.ID != alice.ID {
		t.Errorf("users.lookupByEmail = %+v, %v", u, err)
	}
	if _, err := api.GetUserByEmailContext(ctx, "nobody@example.com"); slackErr(err) != "users_not_found" {
		t.Errorf("unknown email: %v", err)
	}
}

func TestFailures(t *testing.T) {
	t.Parallel()
	fake, api := newClient(t)
	ctx := context.Background()
	ch := fake.AddChannel("incidents")

	fake.RateLimit("chat.postMessage", 3, 1)
	_, _, err := api.PostMessageContext(ctx, ch, slack.MsgOptionText("x", false))
	var rl *slack.RateLimitedError
	if !errors.As(err, &rl) || rl.RetryAfter != 3*time.Second {
		t.Fatalf("rate-limited post: %v", err)
	}
	if calls := fake.Calls("chat.postMessage"); len(calls) != 1 || calls[0].Status != http.StatusTooManyRequests || calls[0].Error != "ratelimited" {
		t.Errorf("recorded %+v", calls)
	}
	if _, _, err := api.PostMessageContext(ctx, ch, slack.MsgOptionText("x", false)); err != nil {
		t.Errorf("after the limit: %v", err)
	}

	// slack-go with retries on waits Retry-After and succeeds.
	fake.RateLimit("auth.test", 0, 1)
	retrying := slack.New(fake.Token, slack.OptionAPIURL(fake.APIURL), slack.OptionRetry(1))
	if _, err := retrying.AuthTestContext(ctx); err != nil {
		t.Errorf("retrying client: %v", err)
	}

	fake.FailNext("conversations.create", "restricted_action")
	if _, err := api.CreateConversationContext(ctx, slack.CreateConversationParams{ChannelName: "inc-1"}); slackErr(err) != "restricted_action" {
		t.Errorf("injected failure: %v", err)
	}
	if _, err := api.CreateConversationContext(ctx, slack.CreateConversationParams{ChannelName: "inc-1"}); err != nil {
		t.Errorf("after the injected failure: %v", err)
	}
	if _, ok := fake.Channel("inc-1"); !ok {
		t.Error("channel not created after the failure")
	}
}

func TestWaitFor(t *testing.T) {
	t.Parallel()
	fake, api := newClient(t)
	ch := fake.AddChannel("incidents")
	go func() {
		for range 3 {
			_, _, _ = api.PostMessage(ch, slack.MsgOptionText("x", false))
		}
	}()
	calls, err := fake.WaitFor("chat.postMessage", 3, 5*time.Second)
	if err != nil || len(calls) < 3 {
		t.Fatalf("WaitFor = %d calls, %v", len(calls), err)
	}
	if _, err := fake.WaitFor("chat.update", 1, 20*time.Millisecond); err == nil {
		t.Error("WaitFor for a call never made returned no error")
	}
	if n := len(fake.Messages(ch)); n != 3 {
		t.Errorf("%d messages, want 3", n)
	}
}

// TestHistoryListOpen: conversations.history gives a conversation's
// messages newest first (by id only, ephemeral ones left out), with their
// metadata on request; conversations.list names the channels;
// conversations.open gives one direct-message conversation per user.
func TestHistoryListOpen(t *testing.T) {
	t.Parallel()
	fake, api := newClient(t)
	ctx := context.Background()
	ops := fake.AddChannel("ops")
	alice := fake.AddUser(slackfake.User{Name: "alice"})
	meta := slack.SlackMetadata{EventType: "firebreak_page", EventPayload: map[string]any{"delivery_key": "k1"}}
	if _, _, err := api.PostMessageContext(ctx, "#ops", slack.MsgOptionText("first", false), slack.MsgOptionMetadata(meta)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := api.PostMessageContext(ctx, ops, slack.MsgOptionText("second", false)); err != nil {
		t.Fatal(err)
	}
	if _, err := api.InviteUsersToConversationContext(ctx, ops, alice.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := api.PostEphemeralContext(ctx, ops, alice.ID, slack.MsgOptionText("only you", false)); err != nil {
		t.Fatal(err)
	}
	h, err := api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: ops, IncludeAllMetadata: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Messages) != 2 || h.Messages[0].Text != "second" || h.Messages[1].Text != "first" ||
		h.Messages[1].Metadata.EventType != "firebreak_page" || h.Messages[1].Metadata.EventPayload["delivery_key"] != "k1" {
		t.Fatalf("history %+v", h.Messages)
	}
	h, err = api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: ops, Limit: 1})
	if err != nil || len(h.Messages) != 1 || !h.HasMore || h.Messages[0].Metadata.EventType != "" {
		t.Fatalf("history limit 1 without metadata: %+v %v", h, err)
	}
	if _, err := api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: "#ops"}); slackErr(err) != "channel_not_found" {
		t.Fatalf("history by name: %v", err)
	}
	chans, _, err := api.GetConversationsContext(ctx, &slack.GetConversationsParameters{})
	if err != nil || len(chans) != 1 || chans[0].ID != ops || chans[0].Name != "ops" {
		t.Fatalf("list %+v %v", chans, err)
	}
	ch1, _, _, err := api.OpenConversationContext(ctx, &slack.OpenConversationParameters{Users: []string{alice.ID}})
	if err != nil {
		t.Fatal(err)
	}
	ch2, _, _, err := api.OpenConversationContext(ctx, &slack.OpenConversationParameters{Users: []string{alice.ID}})
	if err != nil || ch1.ID != ch2.ID || ch1.ID[0] != 'D' {
		t.Fatalf("open twice: %s %s %v", ch1.ID, ch2.ID, err)
	}
	if _, _, _, err := api.OpenConversationContext(ctx, &slack.OpenConversationParameters{Users: []string{"U404"}}); slackErr(err) != "user_not_found" {
		t.Fatalf("open for an unknown user: %v", err)
	}
}
