package slack_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/firebreak-dev/firebreak/services/slack"
)

func TestParseCommand(t *testing.T) {
	t.Parallel()
	tests := []struct {
		text string
		want slack.Command
		// err is part of the error message (and every error says how to
		// write the command, except for unknown verbs).
		err string
	}{
		{"", slack.Command{Verb: "help"}, ""},
		{"help", slack.Command{Verb: "help"}, ""},
		{"declare checkout is down", slack.Command{Verb: "declare", Text: "checkout is down", Severity: "SEV3"}, ""},
		{"declare checkout is down sev1", slack.Command{Verb: "declare", Text: "checkout is down", Severity: "SEV1"}, ""},
		{"declare checkout is down 2 service:checkout", slack.Command{Verb: "declare", Text: "checkout is down", Severity: "SEV2", Service: "checkout"}, ""},
		{"declare sev1", slack.Command{Verb: "declare", Text: "sev1", Severity: "SEV3"}, ""},
		{"declare", slack.Command{}, "say what is happening"},
		{"declare " + strings.Repeat("x", 300), slack.Command{}, "longer than 255"},
		{"ack", slack.Command{Verb: "ack"}, ""},
		{"ACK inc-42 looking", slack.Command{Verb: "ack", Incident: "INC-42", Text: "looking"}, ""},
		{"acknowledge INC42", slack.Command{Verb: "ack", Incident: "INC-42"}, ""},
		{"escalate INC-7 nobody answers", slack.Command{Verb: "escalate", Incident: "INC-7", Text: "nobody answers"}, ""},
		{"contain blocked 10.0.0.0/8", slack.Command{Verb: "contain", Text: "blocked 10.0.0.0/8"}, ""},
		{"contain INC-3", slack.Command{}, "say what you did"},
		{"mitigate INC-3 rolled back", slack.Command{Verb: "mitigate", Incident: "INC-3", Text: "rolled back"}, ""},
		{"resolve", slack.Command{Verb: "resolve"}, ""},
		{"resolve INC-0 x", slack.Command{Verb: "resolve", Text: "INC-0 x"}, ""},
		{"sev 1", slack.Command{Verb: "sev", Severity: "SEV1"}, ""},
		{"sev INC-9 SEV4", slack.Command{Verb: "sev", Incident: "INC-9", Severity: "SEV4"}, ""},
		{"sev 5", slack.Command{}, "not a severity"},
		{"sev", slack.Command{}, "one severity"},
		{"assign <@U024BE7LH|bob>", slack.Command{Verb: "assign", User: "U024BE7LH", SlackUser: true}, ""},
		{"assign INC-2 @alice", slack.Command{Verb: "assign", Incident: "INC-2", User: "alice"}, ""},
		{"assign", slack.Command{}, "name one person"},
		{"assign <script>", slack.Command{}, "not a user"},
		{"note rotated the logs", slack.Command{Verb: "note", Text: "rotated the logs"}, ""},
		{"note", slack.Command{}, "note is empty"},
		{"status", slack.Command{Verb: "status"}, ""},
		{"status INC-5", slack.Command{Verb: "status", Incident: "INC-5"}, ""},
		{"status checkout", slack.Command{}, "not an incident"},
		{"timeline INC-5", slack.Command{Verb: "timeline", Incident: "INC-5"}, ""},
		{"oncall", slack.Command{Verb: "oncall"}, ""},
		{"oncall web-primary", slack.Command{Verb: "oncall", Text: "web-primary"}, ""},
		{"oncall a b", slack.Command{}, "at most one schedule"},
		{"page <@U1>", slack.Command{Verb: "page", User: "U1", SlackUser: true}, ""},
		{"page INC-4 @carol", slack.Command{Verb: "page", Incident: "INC-4", User: "carol"}, ""},
		{"page web-primary", slack.Command{Verb: "page", Text: "web-primary"}, ""},
		{"link", slack.Command{Verb: "link"}, ""},
		{"link alice", slack.Command{}, "no arguments"},
		{"frobnicate", slack.Command{}, "unknown command"},
		{"ack \xff", slack.Command{}, "UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			t.Parallel()
			got, err := slack.ParseCommand(tt.text)
			if tt.err != "" {
				var ce *slack.CommandError
				if !errors.As(err, &ce) || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want a CommandError containing %q", err, tt.err)
				}
				if !strings.Contains(tt.err, "unknown") && !strings.Contains(tt.err, "UTF-8") && !strings.Contains(err.Error(), "Usage: `/incident ") {
					t.Errorf("error %q does not show the usage", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

// FuzzParseCommand: any text parses or fails with a CommandError, never
// panics, and what parses is within the limits the service relies on.
func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"", "help", "declare db down sev1 service:db", "ack INC-42 on it", "assign <@U123|bob>",
		"sev INC-1 2", "page web-primary", "note " + strings.Repeat("é", 100), "contain INC-99999999999999999999 x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		c, err := slack.ParseCommand(text)
		if err != nil {
			var ce *slack.CommandError
			if !errors.As(err, &ce) {
				t.Fatalf("error %T %v is not a CommandError", err, err)
			}
			return
		}
		if len(c.Text) > 4000 {
			t.Errorf("text of %d bytes accepted", len(c.Text))
		}
		if c.Incident != "" && !strings.HasPrefix(c.Incident, "INC-") {
			t.Errorf("incident %q", c.Incident)
		}
		if (c.Verb == "sev" || c.Verb == "declare") && !map[string]bool{"SEV1": true, "SEV2": true, "SEV3": true, "SEV4": true}[c.Severity] {
			t.Errorf("severity %q", c.Severity)
		}
		if c.SlackUser && c.User == "" {
			t.Error("a mention without a user")
		}
	})
}
