package notify

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"

	"github.com/slack-go/slack"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/slackmeta"
)

// Slack pages through the Slack Web API: a user is sent a direct message
// (conversations.open, then chat.postMessage; a contact address that is an
// email is first looked up with users.lookupByEmail), a slack_channel target
// gets a channel post, and a slack_usergroup target a post mentioning the
// group in the default channel.
type Slack struct {
	api *slack.Client
	// channel is the default channel, for user-group pages.
	channel string
}

// NewSlack returns the Slack provider over a slack-go client (pointed at
// the API with slack.OptionAPIURL).
func NewSlack(api *slack.Client, defaultChannel string) *Slack {
	return &Slack{api: api, channel: defaultChannel}
}

// Name implements Provider.
func (*Slack) Name() string { return events.ProviderSlack }

// Send implements Provider.
func (s *Slack) Send(ctx context.Context, m Message) error {
	p := m.Page
	var channel string
	text := m.Subject()
	switch {
	case p.Channel != "":
		channel = p.Channel
	case p.UserGroup != "":
		if s.channel == "" {
			return Permanent(errors.New("slack user group page needs a default channel (FIREBREAK_SLACK_CHANNEL)"))
		}
		channel = s.channel
		text = fmt.Sprintf("<!subteam^%s> %s", p.UserGroup, text)
	case p.ContactMethod != nil && p.ContactMethod.Address != "":
		user := p.ContactMethod.Address
		if _, err := mail.ParseAddress(user); err == nil && strings.Contains(user, "@") {
			u, err := s.api.GetUserByEmailContext(ctx, user)
			if err != nil {
				return slackError("users.lookupByEmail", err)
			}
			user = u.ID
		}
		ch, _, _, err := s.api.OpenConversationContext(ctx, &slack.OpenConversationParameters{Users: []string{user}, ReturnIM: true})
		if err != nil {
			return slackError("conversations.open", err)
		}
		channel = ch.ID
	default:
		return Permanent(errors.New("slack page without a channel or user"))
	}
	if m.Attempt > 1 && s.posted(ctx, channel, m.Key) {
		return nil // an earlier attempt got through; its answer was lost
	}
	_, _, err := s.api.PostMessageContext(ctx, channel,
		slack.MsgOptionText(text, false),
		slack.MsgOptionBlocks(slackBlocks(m, text)...),
		slack.MsgOptionMetadata(slackmeta.Metadata(PageMetadataType, "delivery_key", m.Key)),
	)
	if err != nil {
		return slackError("chat.postMessage", err)
	}
	return nil
}

// PageMetadataType is the event_type of the message metadata each Slack
// page carries; its event_payload holds the delivery key.
const PageMetadataType = "firebreak_page"

// posted reports whether an earlier attempt of delivery key already
// posted to channel: Slack has no idempotency key, so when an attempt
// ended without an answer (a timeout, a 5xx after Slack had accepted, a
// process killed before it recorded the outcome), the retry first looks
// for a message carrying the key in its metadata among the conversation's
// latest messages. If it cannot look (no history scope, an error) it
// reports false: paging errs on the side of sending again.
func (s *Slack) posted(ctx context.Context, channel, key string) bool {
	_, _, found, err := slackmeta.Find(ctx, s.api, channel, PageMetadataType, "delivery_key", key)
	return err == nil && found
}

func slackBlocks(m Message, text string) []slack.Block {
	p := m.Page
	if a := p.ActionItem; a != nil {
		body := fmt.Sprintf("*%s*\n*Incident:* INC-%d %s\n*Due:* %s, overdue by %s", text, p.Number, p.Title, a.Due, a.Overdue())
		if a.TrackerURL != "" {
			body += "\n<" + a.TrackerURL + "|Open in tracker>"
		}
		if m.URL != "" {
			body += "\n<" + m.URL + "|Open incident>"
		}
		return []slack.Block{slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, body, false, false), nil, nil)}
	}
	body := fmt.Sprintf("*%s*\n*Severity:* %s   *Service:* %s\n*Escalation:* %s, level %d",
		text, p.Severity, p.Service, p.Policy, p.Level)
	if m.URL != "" {
		body += "\n<" + m.URL + "|Open incident>"
	}
	return []slack.Block{slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, body, false, false), nil, nil)}
}

// permanentSlackErrors are Slack error codes retrying cannot fix.
var permanentSlackErrors = map[string]bool{
	"not_authed": true, "invalid_auth": true, "account_inactive": true, "token_revoked": true,
	"no_permission": true, "missing_scope": true, "channel_not_found": true, "not_in_channel": true,
	"is_archived": true, "users_not_found": true, "user_not_found": true, "user_disabled": true,
	"cannot_dm_bot": true, "msg_too_long": true, "no_text": true, "invalid_blocks": true,
	"restricted_action": true, "ekm_access_denied": true, "invalid_arguments": true, "unknown_method": true,
}

// slackError classifies a slack-go error: a 429 (RateLimitedError) waits
// its Retry-After, an error code from the list above is permanent, HTTP
// 5xx and transport errors are retried.
func slackError(method string, err error) error {
	var rl *slack.RateLimitedError
	if errors.As(err, &rl) {
		return RetryAfter(fmt.Errorf("slack %s: rate limited", method), rl.RetryAfter)
	}
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		e := fmt.Errorf("slack %s: %s", method, se.Err)
		if permanentSlackErrors[se.Err] {
			return Permanent(e)
		}
		return e
	}
	var sc slack.StatusCodeError
	if errors.As(err, &sc) {
		e := fmt.Errorf("slack %s: HTTP %d", method, sc.Code)
		if sc.Code >= 400 && sc.Code < 500 && sc.Code != 408 && sc.Code != 429 {
			return Permanent(e)
		}
		return e
	}
	return fmt.Errorf("slack %s: %w", method, err)
}
