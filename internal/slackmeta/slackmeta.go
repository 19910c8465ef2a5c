// Package slackmeta finds messages firebreak posted by their message
// metadata. Slack's chat.postMessage has no idempotency key, so a post
// whose answer was lost (a timeout, a process killed before it recorded the
// message) is looked for before it is made again: every post that must not
// show twice carries an event_type and a key in its metadata.
package slackmeta

import (
	"context"
	"regexp"
	"strings"

	"github.com/slack-go/slack"
)

// HistoryDepth is how many of a conversation's latest messages Find looks
// through.
const HistoryDepth = 200

// conversationID is the shape of a conversation id (anything else is a
// channel name).
var conversationID = regexp.MustCompile(`^[CGD][A-Z0-9]{6,}$`)

// API is the part of the Slack client Find uses (*slack.Client has it).
type API interface {
	GetConversationsContext(ctx context.Context, params *slack.GetConversationsParameters) ([]slack.Channel, string, error)
	GetConversationHistoryContext(ctx context.Context, params *slack.GetConversationHistoryParameters) (*slack.GetConversationHistoryResponse, error)
}

var _ API = (*slack.Client)(nil)

// Metadata is the metadata of a post of eventType with field=value.
func Metadata(eventType, field, value string) slack.SlackMetadata {
	return slack.SlackMetadata{EventType: eventType, EventPayload: map[string]any{field: value}}
}

// ConversationID returns the id of channel, given as an id or as a channel
// name ("#ops" or "ops"; resolved with conversations.list, which needs the
// channels:read and groups:read scopes).
func ConversationID(ctx context.Context, api API, channel string) (string, error) {
	if conversationID.MatchString(channel) {
		return channel, nil
	}
	name := strings.TrimPrefix(channel, "#")
	params := &slack.GetConversationsParameters{Types: []string{"public_channel", "private_channel"}, ExcludeArchived: true, Limit: 1000}
	for range 20 {
		chans, cursor, err := api.GetConversationsContext(ctx, params)
		if err != nil {
			return "", err
		}
		for _, c := range chans {
			if c.Name == name {
				return c.ID, nil
			}
		}
		if cursor == "" {
			break
		}
		params.Cursor = cursor
	}
	return "", &slack.SlackErrorResponse{Err: "channel_not_found"}
}

// Find looks through the latest HistoryDepth messages of channel (an id or
// a name) for one whose metadata has eventType and field=value, and
// returns the conversation's id and the message's ts. It needs the
// history scope of the conversation's kind (channels:history,
// groups:history, im:history); callers that cannot look post again.
func Find(ctx context.Context, api API, channel, eventType, field, value string) (id, ts string, found bool, err error) {
	id, err = ConversationID(ctx, api, channel)
	if err != nil {
		return "", "", false, err
	}
	h, err := api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{
		ChannelID: id, Limit: HistoryDepth, IncludeAllMetadata: true,
	})
	if err != nil {
		return id, "", false, err
	}
	for _, m := range h.Messages {
		if m.Metadata.EventType == eventType && m.Metadata.EventPayload[field] == value {
			return id, m.Timestamp, true, nil
		}
	}
	return id, "", false, nil
}
