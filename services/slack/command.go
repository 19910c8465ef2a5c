package slack

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Slash-command verbs (/incident <verb> …).
const (
	VerbDeclare  = "declare"
	VerbAck      = "ack"
	VerbEscalate = "escalate"
	VerbContain  = "contain"
	VerbMitigate = "mitigate"
	VerbResolve  = "resolve"
	VerbSev      = "sev"
	VerbAssign   = "assign"
	VerbNote     = "note"
	VerbStatus   = "status"
	VerbTimeline = "timeline"
	VerbOnCall   = "oncall"
	VerbPage     = "page"
	VerbLink     = "link"
	VerbHelp     = "help"
)

// aliases map other spellings people type to a verb.
var aliases = map[string]string{
	"acknowledge": VerbAck, "severity": VerbSev, "on-call": VerbOnCall, "who": VerbOnCall,
	"new": VerbDeclare, "open": VerbDeclare, "": VerbHelp, "?": VerbHelp,
}

// usage is each verb's syntax, for help and for error messages.
var usage = []struct{ verb, syntax, what string }{
	{VerbDeclare, "declare <title> [sev1-4] [service:<name>]", "open an incident"},
	{VerbAck, "ack [INC-42] [note]", "acknowledge"},
	{VerbEscalate, "escalate [INC-42] [note]", "escalate to the next level"},
	{VerbContain, "contain [INC-42] <what you did>", "record a containment action"},
	{VerbMitigate, "mitigate [INC-42] <what you did>", "record a mitigation"},
	{VerbResolve, "resolve [INC-42] [note]", "resolve"},
	{VerbSev, "sev [INC-42] <1-4>", "change the severity"},
	{VerbAssign, "assign [INC-42] @user", "hand the incident to someone"},
	{VerbNote, "note [INC-42] <text>", "add a note to the timeline"},
	{VerbStatus, "status [INC-42]", "show the incident"},
	{VerbTimeline, "timeline [INC-42]", "link to the timeline"},
	{VerbOnCall, "oncall [schedule]", "who is on call"},
	{VerbPage, "page [INC-42] @user|<schedule>", "add a responder (the on-call person of a schedule)"},
	{VerbLink, "link", "link your Slack account to your firebreak user (by email)"},
	{VerbHelp, "help", "this list"},
}

// Command is a parsed /incident command.
type Command struct {
	Verb string
	// Incident is "INC-<n>" when given; "" means the incident of the
	// channel the command was typed in.
	Incident string
	// Text is the rest: title, note, action or schedule.
	Text string
	// Severity is SEV1..SEV4 (declare, sev).
	Severity string
	// User is a Slack user id from a mention (<@U123>), or a firebreak
	// user id typed as @alice or alice (assign, page).
	User string
	// SlackUser says User is a Slack user id.
	SlackUser bool
	// Service is the service a declared incident belongs to ("" for the
	// configured default).
	Service string
}

// Limits on slash-command input (Slack caps the whole text at 4000).
const (
	maxTitleLen = 255
	maxTextLen  = 4000
)

// CommandError is a slash command firebreak could not read: what is wrong
// and how to write it.
type CommandError struct {
	Problem string
	Usage   string
}

func (e *CommandError) Error() string {
	if e.Usage == "" {
		return e.Problem
	}
	return e.Problem + ". Usage: `/incident " + e.Usage + "`"
}

func usageOf(verb string) string {
	for _, u := range usage {
		if u.verb == verb {
			return u.syntax
		}
	}
	return ""
}

var (
	incRe     = regexp.MustCompile(`^(?i)inc-?([0-9]{1,18})$`)
	mentionRe = regexp.MustCompile(`^<@([UW][A-Z0-9]{1,20})(?:\|[^>]*)?>$`)
	userRe    = regexp.MustCompile(`^@?([A-Za-z0-9][A-Za-z0-9._@+-]{0,99})$`)
	sevRe     = regexp.MustCompile(`^(?i)(?:sev)?([1-4])$`)
	serviceRe = regexp.MustCompile(`^(?i)service:([A-Za-z0-9][A-Za-z0-9_-]{0,99})$`)
)

// ParseCommand reads the text of /incident. It never panics; every error is
// a *CommandError saying how to fix the command.
func ParseCommand(text string) (Command, error) {
	if !utf8.ValidString(text) {
		return Command{}, &CommandError{Problem: "the command is not valid UTF-8"}
	}
	if len(text) > maxTextLen {
		return Command{}, &CommandError{Problem: fmt.Sprintf("the command is longer than %d bytes", maxTextLen)}
	}
	fields := strings.Fields(text)
	verb := ""
	if len(fields) > 0 {
		verb = strings.ToLower(fields[0])
		fields = fields[1:]
	}
	if a, ok := aliases[verb]; ok {
		verb = a
	}
	c := Command{Verb: verb}
	bad := func(format string, args ...any) (Command, error) {
		return Command{}, &CommandError{Problem: fmt.Sprintf(format, args...), Usage: usageOf(verb)}
	}
	// An incident reference may follow the verb.
	takeIncident := func() {
		if len(fields) > 0 {
			if m := incRe.FindStringSubmatch(fields[0]); m != nil {
				n, err := strconv.ParseInt(m[1], 10, 64)
				if err == nil && n > 0 {
					c.Incident = "INC-" + strconv.FormatInt(n, 10)
					fields = fields[1:]
				}
			}
		}
	}
	rest := func() string { return strings.Join(fields, " ") }
	switch verb {
	case VerbHelp, VerbLink:
		if len(fields) > 0 && verb == VerbLink {
			return bad("link takes no arguments: it links you by the email of your Slack profile")
		}
	case VerbDeclare:
		if n := len(fields); n > 0 {
			if m := serviceRe.FindStringSubmatch(fields[n-1]); m != nil {
				c.Service, fields = m[1], fields[:n-1]
			}
		}
		c.Severity = "SEV3"
		if n := len(fields); n > 1 {
			if m := sevRe.FindStringSubmatch(fields[n-1]); m != nil {
				c.Severity, fields = "SEV"+m[1], fields[:n-1]
			}
		}
		c.Text = rest()
		switch {
		case c.Text == "":
			return bad("say what is happening")
		case utf8.RuneCountInString(c.Text) > maxTitleLen:
			return bad("the title is longer than %d characters", maxTitleLen)
		}
	case VerbAck, VerbEscalate, VerbResolve, VerbStatus, VerbTimeline:
		takeIncident()
		c.Text = rest()
		if c.Text != "" && (verb == VerbStatus || verb == VerbTimeline) {
			return bad("%q is not an incident; write it as INC-42", fields[0])
		}
	case VerbContain, VerbMitigate, VerbNote:
		takeIncident()
		c.Text = rest()
		if c.Text == "" {
			if verb == VerbNote {
				return bad("the note is empty")
			}
			return bad("say what you did")
		}
	case VerbSev:
		takeIncident()
		if len(fields) != 1 {
			return bad("give one severity, 1 to 4")
		}
		m := sevRe.FindStringSubmatch(fields[0])
		if m == nil {
			return bad("%q is not a severity; use 1, 2, 3 or 4 (1 is the worst)", fields[0])
		}
		c.Severity = "SEV" + m[1]
	case VerbAssign, VerbPage:
		takeIncident()
		if len(fields) != 1 {
			return bad("name one person (@user)")
		}
		if m := mentionRe.FindStringSubmatch(fields[0]); m != nil {
			c.User, c.SlackUser = m[1], true
		} else if m := userRe.FindStringSubmatch(fields[0]); m != nil {
			if verb == VerbPage && !strings.HasPrefix(fields[0], "@") {
				c.Text = m[1] // a schedule
			} else {
				c.User = m[1]
			}
		} else {
			return bad("%q is not a user; mention them as @name", fields[0])
		}
	case VerbOnCall:
		if len(fields) > 1 {
			return bad("give at most one schedule")
		}
		c.Text = rest()
	default:
		return Command{}, &CommandError{Problem: fmt.Sprintf("unknown command %q; try `/incident help`", truncate(verb, 40))}
	}
	if len(c.Text) > maxTextLen {
		return bad("the text is too long")
	}
	return c, nil
}

// Help is the text of /incident help.
func Help() string {
	var b strings.Builder
	b.WriteString("*/incident* commands (in an incident channel the incident is implied; elsewhere add INC-42):\n")
	for _, u := range usage {
		fmt.Fprintf(&b, "• `/incident %s` — %s\n", u.syntax, u.what)
	}
	return b.String()
}
