package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/app"
	"github.com/firebreak-dev/firebreak/internal/client"
	"github.com/firebreak-dev/firebreak/internal/slackfake"
	"github.com/firebreak-dev/firebreak/services/escalation"
	"github.com/firebreak-dev/firebreak/services/incident"
	"github.com/firebreak-dev/firebreak/services/intake"
	"github.com/firebreak-dev/firebreak/services/slack"
)

const testSigningSecret = "8f742231b10e8888abcd99yyyzzz85a5"

// slackHarness is a dev App with the slack service pointed at a fake
// Slack, and the fake's seeded workspace.
type slackHarness struct {
	*running
	fake    *slackfake.Server
	channel string
	alice   slackfake.User
	mallory slackfake.User
	c       *client.Client
}

func startSlack(t testing.TB, autoProvision bool) *slackHarness {
	t.Helper()
	fake := slackfake.New(t, slackfake.Config{})
	h := &slackHarness{fake: fake}
	h.alice = fake.AddUser(slackfake.User{Name: "alice", RealName: "Alice Smith", DisplayName: "alice", Email: "alice@example.com"})
	h.mallory = fake.AddUser(slackfake.User{Name: "mallory", RealName: "Mallory", Email: "mallory@example.com"})
	h.channel = fake.AddChannel("incidents", h.alice.ID, h.mallory.ID)
	cfg := devConfig(t.TempDir())
	cfg.Slack = app.SlackConfig{BotToken: fake.Token, SigningSecret: testSigningSecret, APIURL: fake.APIURL,
		Channel: "incidents", AutoProvision: autoProvision}
	h.running = start(t, cfg)
	h.c = client.New(h.HTTPURL(), h.Token(), "cli")
	if _, err := h.c.ApplyConfig(context.Background(), escalation.Config{
		Users: []escalation.User{{ID: "alice", Name: "Alice Smith", Email: "alice@example.com"}},
	}, false); err != nil {
		t.Fatal(err)
	}
	return h
}

// clickBody is the form Slack posts when user clicks a button of the
// incident message.
// clicks numbers the test's clicks: Slack gives every click its own
// trigger_id and action_ts, so two clicks on one button never sign the
// same body (the replay cache would refuse the second).
var clicks atomic.Int64

func clickBody(t testing.TB, user slackfake.User, channel, ts, actionID, incidentID string) []byte {
	t.Helper()
	n := clicks.Add(1)
	payload := map[string]any{
		"type":         "block_actions",
		"team":         map[string]any{"id": "T0TEAM0001", "domain": "firebreak"},
		"user":         map[string]any{"id": user.ID, "username": user.Name, "name": user.Name, "team_id": "T0TEAM0001"},
		"api_app_id":   "A0APP0001",
		"container":    map[string]any{"type": "message", "message_ts": ts, "channel_id": channel, "is_ephemeral": false},
		"trigger_id":   fmt.Sprintf("1234.%d.abcd", n),
		"channel":      map[string]any{"id": channel, "name": "incidents"},
		"response_url": "https://hooks.slack.com/actions/T0TEAM0001/1/xyz",
		"actions": []map[string]any{{
			"action_id": actionID, "block_id": slack.BlockIDActions, "type": "button", "value": incidentID,
			"text": map[string]any{"type": "plain_text", "text": actionID}, "action_ts": fmt.Sprintf("1700000000.%06d", n),
		}},
	}
	raw, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	return []byte(url.Values{"payload": {string(raw)}}.Encode())
}

// postSigned posts body to path with the headers hdr (a signature, or none).
func postSigned(t testing.TB, base, path string, body []byte, hdr http.Header) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	return resp.StatusCode, buf.Bytes()
}

func (h *slackHarness) signed(body []byte) http.Header {
	return slack.SignedHeader([]byte(testSigningSecret), time.Now(), body)
}

func (h *slackHarness) click(t testing.TB, user slackfake.User, ts, action, incidentID string) {
	t.Helper()
	body := clickBody(t, user, h.channel, ts, action, incidentID)
	if status, resp := postSigned(t, h.HTTPURL(), "/slack/interactions", body, h.signed(body)); status != http.StatusOK {
		t.Fatalf("click %s: %d %s", action, status, resp)
	}
}

// waitMessage waits until the incident message ts satisfies ok.
func (h *slackHarness) waitMessage(t *testing.T, ts, what string, ok func(text, blocks string) bool) {
	t.Helper()
	var last slackfake.Message
	defer func() {
		if t.Failed() {
			t.Logf("last version of the message: %s\n%s", last.Text, last.Blocks)
		}
	}()
	eventually(t, what, func() bool {
		m, found := h.fake.LastMessage(h.channel, ts)
		last = m
		return found && ok(m.Text, string(m.Blocks))
	})
}

// waitEphemeral waits for an ephemeral message to user containing want.
func (h *slackHarness) waitEphemeral(t *testing.T, user, want string) slackfake.Message {
	t.Helper()
	var got slackfake.Message
	eventually(t, fmt.Sprintf("an ephemeral message to %s containing %q", user, want), func() bool {
		for _, m := range h.fake.Messages(h.channel) {
			if m.Ephemeral && m.EphemeralTo == user && strings.Contains(m.Text, want) {
				got = m
				return true
			}
		}
		return false
	})
	return got
}

// TestSlackEndToEnd: an alert posts the incident message; a signed
// Acknowledge click acknowledges the incident as the clicking user and the
// message shows the new state and who acknowledged; Resolve updates it
// again. Forged, stale and replayed requests are refused with 401 and
// change nothing; an unknown Slack user is told how to get linked; a
// click the incident service refuses is explained to the clicker.
func TestSlackEndToEnd(t *testing.T) {
	t.Parallel()
	h := startSlack(t, false)
	rec := record(t, h.NATSConn())
	ctx := context.Background()

	if _, err := h.c.SendAlert(ctx, intake.Alert{Service: "checkout", DedupKey: "5xx", Summary: "checkout 5xx above 5%", Severity: "critical"}); err != nil {
		t.Fatal(err)
	}
	posts, err := h.fake.WaitFor("chat.postMessage", 1, 15*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if posts[0].Params.Get("channel") != "incidents" {
		t.Errorf("posted to %q, want the configured channel", posts[0].Params.Get("channel"))
	}
	msg, _ := h.fake.LastMessage(h.channel, "")
	ts := msg.TS
	inc := waitIncident(t, h.c, "INC-1", func(incident.IncidentJSON) bool { return true })
	if !strings.Contains(msg.Text, "INC-1") || !strings.Contains(msg.Text, "triggered") || !strings.Contains(string(msg.Blocks), slack.ActionAcknowledge) {
		t.Fatalf("incident message: %s\n%s", msg.Text, msg.Blocks)
	}

	// Forged, stale and replayed requests: 401, nothing happens.
	ackBody := clickBody(t, h.alice, h.channel, ts, slack.ActionAcknowledge, inc.ID)
	forged := slack.SignedHeader([]byte("not-the-secret"), time.Now(), ackBody)
	stale := slack.SignedHeader([]byte(testSigningSecret), time.Now().Add(-6*time.Minute), ackBody)
	unsigned := http.Header{}
	for name, hdr := range map[string]http.Header{"forged": forged, "stale": stale, "unsigned": unsigned} {
		if status, body := postSigned(t, h.HTTPURL(), "/slack/interactions", ackBody, hdr); status != http.StatusUnauthorized {
			t.Errorf("%s click: status %d, want 401 (%s)", name, status, body)
		}
		if status, _ := postSigned(t, h.HTTPURL(), "/slack/commands", []byte("text=ack+INC-1&user_id="+h.alice.ID+"&channel_id="+h.channel), hdr); status != http.StatusUnauthorized {
			t.Errorf("%s slash command: status %d, want 401", name, status)
		}
	}
	if got, _ := h.c.GetIncident(ctx, "INC-1"); got.Status != incident.StatusTriggered {
		t.Fatalf("a refused request changed the incident: %s", got.Status)
	}

	// Alice acknowledges with a signed click.
	good := h.signed(ackBody)
	if status, body := postSigned(t, h.HTTPURL(), "/slack/interactions", ackBody, good); status != http.StatusOK {
		t.Fatalf("signed click: %d %s", status, body)
	}
	// The same request again is a replay.
	if status, _ := postSigned(t, h.HTTPURL(), "/slack/interactions", ackBody, good); status != http.StatusUnauthorized {
		t.Errorf("replayed click: status %d, want 401", status)
	}
	got := waitIncident(t, h.c, "INC-1", func(i incident.IncidentJSON) bool { return i.Status == incident.StatusAcknowledged })
	if got.AcknowledgedBy != "alice" {
		t.Errorf("acknowledged by %q, want alice (the clicking Slack user's firebreak user)", got.AcknowledgedBy)
	}
	h.waitMessage(t, ts, "the message to show Acknowledged by alice", func(text, blocks string) bool {
		return strings.Contains(text, "(acknowledged)") && strings.Contains(blocks, "Acknowledged by") &&
			strings.Contains(blocks, "alice via slack") && strings.Contains(blocks, slack.ActionContain)
	})

	// Slash commands, signed like clicks: read-only ones are answered in
	// the response, bad ones say how to write them, others act.
	for _, tt := range []struct{ text, want string }{
		{"status INC-1", "Acknowledged by alice"},
		{"sev INC-1 9", "Usage: `/incident sev [INC-42] <1-4>`"},
		{"note INC-1 rotated the logs", "On it"},
	} {
		body := []byte(url.Values{"command": {"/incident"}, "text": {tt.text}, "user_id": {h.alice.ID}, "user_name": {"alice"},
			"channel_id": {h.channel}, "team_id": {"T0TEAM0001"}, "response_url": {"https://hooks.slack.com/commands/1"}}.Encode())
		status, resp := postSigned(t, h.HTTPURL(), "/slack/commands", body, h.signed(body))
		var reply struct {
			ResponseType string `json:"response_type"`
			Text         string `json:"text"`
		}
		if err := json.Unmarshal(resp, &reply); status != http.StatusOK || err != nil || reply.ResponseType != "ephemeral" || !strings.Contains(reply.Text, tt.want) {
			t.Errorf("/incident %s: %d %s, want an ephemeral answer containing %q", tt.text, status, resp, tt.want)
		}
	}
	eventually(t, "the note in the thread", func() bool {
		for _, m := range h.fake.Messages(h.channel) {
			if m.ThreadTS == ts && strings.Contains(m.Text, "rotated the logs") {
				return true
			}
		}
		return false
	})

	// Mallory has no firebreak user and auto-provisioning is off: she is
	// told so, with the /incident link hint, and nothing changes.
	h.click(t, h.mallory, ts, slack.ActionResolve, inc.ID)
	h.waitEphemeral(t, h.mallory.ID, "/incident link")

	// Alice resolves.
	h.click(t, h.alice, ts, slack.ActionResolve, inc.ID)
	waitIncident(t, h.c, "INC-1", func(i incident.IncidentJSON) bool { return i.Status == incident.StatusResolved })
	h.waitMessage(t, ts, "the message to show Resolved by alice", func(text, blocks string) bool {
		return strings.Contains(text, "(resolved)") && strings.Contains(blocks, "Resolved by") &&
			!strings.Contains(blocks, slack.ActionAcknowledge)
	})

	// An old Acknowledge button clicked again: the incident service
	// refuses, and Alice is told why.
	h.click(t, h.alice, ts, slack.ActionAcknowledge, inc.ID)
	h.waitEphemeral(t, h.alice.ID, "did not acknowledge")

	// The thread tells the story.
	eventually(t, "thread posts for the acknowledgement and the resolution", func() bool {
		var ack, res bool
		for _, m := range h.fake.Messages(h.channel) {
			if m.ThreadTS == ts {
				ack = ack || strings.Contains(m.Text, "Acknowledged by")
				res = res || strings.Contains(m.Text, "Resolved by")
			}
		}
		return ack && res
	})
	// One post for the incident, and exactly the commands of the accepted
	// clicks on the bus: none from the refused or replayed requests.
	if n := len(h.fake.Calls("chat.postMessage")) - threadPosts(h.fake, h.channel, ts); n != 1 {
		t.Errorf("%d incident messages posted, want 1", n)
	}
	counts := map[string]int{}
	for _, typ := range rec.types() {
		counts[typ]++
	}
	if counts[events.CmdIncidentAcknowledge] != 2 || counts[events.CmdIncidentResolve] != 1 {
		t.Errorf("commands on the bus: %v; want 2 acknowledge (one rejected) and 1 resolve", counts)
	}
	rec.validate(t)
}

func threadPosts(f *slackfake.Server, channel, ts string) int {
	n := 0
	for _, m := range f.Messages(channel) {
		if m.ThreadTS == ts && !m.Ephemeral {
			n++
		}
	}
	return n
}
