package slack_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/firebreak-dev/firebreak/internal/slackfake"
	"github.com/firebreak-dev/firebreak/services/slack"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const baseURL = "https://firebreak.example.com/"

var unescapeHTML = strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&")

func view(status string) slack.IncidentView {
	v := slack.IncidentView{
		ID:         "0195f3a2-7c4e-7b3a-9d2e-6f1a2b3c4d5e",
		Key:        "INC-42",
		Title:      "checkout: payment API error rate > 5%",
		Severity:   "SEV1",
		Service:    "checkout",
		Status:     status,
		AlertCount: 7,
		UpdatedAt:  time.Date(2026, 11, 28, 2, 34, 0, 0, time.UTC),
	}
	switch status {
	case "acknowledged", "mitigated", "resolved":
		v.Assignee, v.AcknowledgedBy = "alice@example.com", "alice@example.com"
	}
	if status == "resolved" {
		v.ResolvedBy = "bob@example.com"
	}
	return v
}

// wantActions are the buttons per status, the timeline link last.
var wantActions = map[string][]string{
	"triggered":    {slack.ActionAcknowledge, slack.ActionEscalate, slack.ActionResolve, slack.ActionTimeline},
	"escalated":    {slack.ActionAcknowledge, slack.ActionEscalate, slack.ActionResolve, slack.ActionTimeline},
	"acknowledged": {slack.ActionEscalate, slack.ActionContain, slack.ActionMitigate, slack.ActionResolve, slack.ActionTimeline},
	"contained":    {slack.ActionMitigate, slack.ActionResolve, slack.ActionTimeline},
	"mitigated":    {slack.ActionResolve, slack.ActionTimeline},
	"resolved":     {slack.ActionTimeline},
	"postmortem":   {slack.ActionTimeline},
	"closed":       {slack.ActionTimeline},
	"bogus":        {slack.ActionTimeline},
}

// goldenStates have a golden file testdata/<state>.json.
var goldenStates = []string{"triggered", "acknowledged", "mitigated", "resolved"}

func TestIncidentMessageGolden(t *testing.T) {
	t.Parallel()
	for _, state := range goldenStates {
		t.Run(state, func(t *testing.T) {
			t.Parallel()
			msg := slack.IncidentMessage(view(state), baseURL)
			got, err := json.MarshalIndent(msg.Blocks, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			// slack-go's MarshalJSON escapes <, > and & as \u00XX; the golden
			// file shows them as they are (the same JSON), so diffs read well.
			got = []byte(unescapeHTML.Replace(string(got)) + "\n")
			path := filepath.Join("testdata", state+".json")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to write it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("blocks differ from %s (run go test -update and review the diff):\n%s", path, got)
			}
		})
	}
}

// TestGoldenFilesDecode checks that every golden file is Block Kit that
// slack-go reads back, with the buttons its state should offer.
func TestGoldenFilesDecode(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(goldenStates) {
		t.Errorf("golden files %v, want one per state %v", files, goldenStates)
	}
	for _, path := range files {
		state := strings.TrimSuffix(filepath.Base(path), ".json")
		t.Run(state, func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var blocks slackapi.Blocks
			if err := json.Unmarshal(data, &blocks); err != nil {
				t.Fatalf("slack-go cannot decode %s: %v", path, err)
			}
			for _, b := range blocks.BlockSet {
				if _, unknown := b.(*slackapi.UnknownBlock); unknown {
					t.Errorf("unknown block %v", b.BlockType())
				}
			}
			if got, want := actionIDs(t, blocks), wantActions[state]; !slices.Equal(got, want) {
				t.Errorf("action_ids = %v, want %v", got, want)
			}
		})
	}
}

func TestIncidentMessageActions(t *testing.T) {
	t.Parallel()
	for status, want := range wantActions {
		t.Run(status, func(t *testing.T) {
			t.Parallel()
			inc := view(status)
			msg := slack.IncidentMessage(inc, baseURL)
			if got := actionIDs(t, msg.Blocks); !slices.Equal(got, want) {
				t.Errorf("action_ids = %v, want %v", got, want)
			}
			for _, b := range buttons(t, msg.Blocks) {
				if b.Value != inc.ID {
					t.Errorf("%s value = %q, want the incident id", b.ActionID, b.Value)
				}
				if b.ActionID == slack.ActionTimeline && b.URL != "https://firebreak.example.com/api/v1/incidents/INC-42/timeline" {
					t.Errorf("timeline url = %q", b.URL)
				}
			}
		})
	}
}

func TestIncidentMessageText(t *testing.T) {
	t.Parallel()
	inc := view("triggered")
	inc.Title = strings.Repeat("x", 200)
	inc.Assignee = "<!channel> & co"
	msg := slack.IncidentMessage(inc, baseURL)

	header := msg.Blocks.BlockSet[0].(*slackapi.HeaderBlock).Text.Text
	if n := len([]rune(header)); n != 150 || !strings.HasPrefix(header, "INC-42: ") || !strings.HasSuffix(header, "…") {
		t.Errorf("header %q (%d runes), want INC-42 and 150 runes", header, n)
	}
	fields := msg.Blocks.BlockSet[1].(*slackapi.SectionBlock).Fields
	if got := fields[4].Text; got != "*Assignee*\n&lt;!channel&gt; &amp; co" {
		t.Errorf("assignee field %q, want mrkdwn-escaped", got)
	}
	if !strings.Contains(msg.Text, "INC-42") || !strings.Contains(msg.Text, "SEV1") {
		t.Errorf("fallback text %q", msg.Text)
	}
}

func actionIDs(t *testing.T, blocks slackapi.Blocks) []string {
	t.Helper()
	var ids []string
	for _, b := range buttons(t, blocks) {
		ids = append(ids, b.ActionID)
	}
	return ids
}

func buttons(t *testing.T, blocks slackapi.Blocks) []*slackapi.ButtonBlockElement {
	t.Helper()
	var out []*slackapi.ButtonBlockElement
	for _, b := range blocks.BlockSet {
		a, ok := b.(*slackapi.ActionBlock)
		if !ok {
			continue
		}
		if a.BlockID != slack.BlockIDActions {
			t.Errorf("actions block_id = %q", a.BlockID)
		}
		for _, e := range a.Elements.ElementSet {
			btn, ok := e.(*slackapi.ButtonBlockElement)
			if !ok {
				t.Fatalf("element %T, want buttons only", e)
			}
			out = append(out, btn)
		}
	}
	return out
}

// TestIncidentMessageThroughSlack posts and updates the message with the
// real client against the fake, as the service will.
func TestIncidentMessageThroughSlack(t *testing.T) {
	t.Parallel()
	fake := slackfake.New(t, slackfake.Config{})
	api := slackapi.New(fake.Token, slackapi.OptionAPIURL(fake.APIURL))
	ch := fake.AddChannel("incidents")

	msg := slack.IncidentMessage(view("triggered"), baseURL)
	_, ts, err := api.PostMessage(ch, slackapi.MsgOptionText(msg.Text, false), slackapi.MsgOptionBlocks(msg.Blocks.BlockSet...))
	if err != nil {
		t.Fatal(err)
	}
	msg = slack.IncidentMessage(view("acknowledged"), baseURL)
	if _, _, _, err := api.UpdateMessage(ch, ts, slackapi.MsgOptionText(msg.Text, false), slackapi.MsgOptionBlocks(msg.Blocks.BlockSet...)); err != nil {
		t.Fatal(err)
	}
	got, _ := fake.LastMessage(ch, ts)
	var blocks slackapi.Blocks
	if err := json.Unmarshal(got.Blocks, &blocks); err != nil {
		t.Fatal(err)
	}
	if ids := actionIDs(t, blocks); !slices.Equal(ids, wantActions["acknowledged"]) || got.Text != msg.Text {
		t.Errorf("message in Slack: text %q, action_ids %v", got.Text, ids)
	}
}
