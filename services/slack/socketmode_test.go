package slack_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/services/slack"
)

// TestSocketMode drives the service over Socket Mode with the real
// slack-go socketmode client against the fake's apps.connections.open and
// websocket: a slash command is answered in its acknowledgement, and a
// button click becomes a command as the clicking user.
func TestSocketMode(t *testing.T) {
	t.Parallel()
	h := newHarness(t, slack.Config{})
	h.handle(t, triggered("SEV2"))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- slack.RunSocketMode(ctx, h.svc, h.fake.AppToken, []slackapi.Option{slackapi.OptionAPIURL(h.fake.APIURL)}, nil)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("RunSocketMode: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("RunSocketMode did not stop")
		}
	})

	defer func() {
		if t.Failed() {
			t.Logf("calls: %+v", h.fake.Calls("apps.connections.open"))
		}
	}()
	id, err := h.fake.SendSocket("slash_commands", map[string]any{
		"command": "/incident", "text": "status INC-42", "user_id": h.alice.ID, "channel_id": h.ch, "team_id": "T0TEAM0001",
	}, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ack, err := h.fake.WaitAck(id, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var reply struct{ ResponseType, Text string }
	if err := json.Unmarshal(ack, &reply); err != nil || !strings.Contains(reply.Text, "INC-42: Checkout") {
		t.Fatalf("slash command ack %s (%v)", ack, err)
	}

	inc, _ := h.store.IncidentGet(context.Background(), incID)
	id, err = h.fake.SendSocket("interactive", map[string]any{
		"type": "block_actions", "user": map[string]any{"id": h.alice.ID, "name": "alice"},
		"channel":   map[string]any{"id": h.ch},
		"container": map[string]any{"type": "message", "message_ts": inc.MessageTS, "channel_id": h.ch},
		"actions":   []map[string]any{{"action_id": slack.ActionAcknowledge, "block_id": slack.BlockIDActions, "type": "button", "value": incID}},
	}, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.fake.WaitAck(id, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(h.commands(t)) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cmds := h.commands(t)
	if len(cmds) != 1 || cmds[0].Type != events.CmdIncidentAcknowledge || cmds[0].Actor.ID != "alice" {
		t.Fatalf("commands %+v, want alice's acknowledge", cmds)
	}
	if calls := h.fake.Calls("apps.connections.open"); len(calls) == 0 || calls[0].Token != h.fake.AppToken {
		t.Errorf("apps.connections.open calls %+v, want the app token", calls)
	}
}
