package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/firebreak-dev/firebreak/events"
)

// Teams posts pages as an Adaptive Card to a Microsoft Teams incoming
// webhook or a Workflows "when a Teams webhook request is received" URL,
// the contact method's address. Both take the same body: a message
// activity with one attachment of content type
// application/vnd.microsoft.card.adaptive; Workflows answer 202 Accepted.
type Teams struct {
	client *http.Client
}

// NewTeams returns the Teams provider; client may be nil.
func NewTeams(client *http.Client) *Teams {
	if client == nil {
		client = newHTTPClient()
	}
	return &Teams{client: client}
}

// Name implements Provider.
func (*Teams) Name() string { return events.ProviderTeams }

// TeamsMessage is the body posted to Teams.
type TeamsMessage struct {
	Type        string            `json:"type"` // "message"
	Attachments []TeamsAttachment `json:"attachments"`
}

// TeamsAttachment carries one card.
type TeamsAttachment struct {
	ContentType string       `json:"contentType"`
	ContentURL  *string      `json:"contentUrl"`
	Content     AdaptiveCard `json:"content"`
}

// AdaptiveCard is the subset of the Adaptive Card schema a page uses.
type AdaptiveCard struct {
	Schema  string           `json:"$schema"`
	Type    string           `json:"type"` // "AdaptiveCard"
	Version string           `json:"version"`
	Body    []map[string]any `json:"body"`
	Actions []map[string]any `json:"actions,omitempty"`
}

// ContentTypeAdaptiveCard is the attachment content type of an Adaptive Card.
const ContentTypeAdaptiveCard = "application/vnd.microsoft.card.adaptive"

// TeamsCard renders a page as the message Teams is sent.
func TeamsCard(m Message) TeamsMessage {
	p := m.Page
	if a := p.ActionItem; a != nil {
		card := AdaptiveCard{
			Schema: "http://adaptivecards.io/schemas/adaptive-card.json", Type: "AdaptiveCard", Version: "1.4",
			Body: []map[string]any{
				{"type": "TextBlock", "text": m.Subject(), "size": "Large", "weight": "Bolder", "wrap": true},
				{"type": "TextBlock", "text": "You own this post-mortem action item; it is past its due date.", "wrap": true, "isSubtle": true},
				{"type": "FactSet", "facts": []map[string]any{
					{"title": "Incident", "value": fmt.Sprintf("INC-%d: %s", p.Number, p.Title)},
					{"title": "Due", "value": a.Due},
					{"title": "Overdue by", "value": a.Overdue()},
					{"title": "Owner", "value": a.Owner},
				}},
			},
		}
		if a.TrackerURL != "" {
			card.Actions = append(card.Actions, map[string]any{"type": "Action.OpenUrl", "title": "Open in tracker", "url": a.TrackerURL})
		}
		if m.URL != "" {
			card.Actions = append(card.Actions, map[string]any{"type": "Action.OpenUrl", "title": "Open incident", "url": m.URL})
		}
		return TeamsMessage{Type: "message", Attachments: []TeamsAttachment{{ContentType: ContentTypeAdaptiveCard, Content: card}}}
	}
	facts := []map[string]any{
		{"title": "Severity", "value": p.Severity},
		{"title": "Service", "value": p.Service},
		{"title": "Escalation", "value": fmt.Sprintf("%s, level %d", p.Policy, p.Level)},
	}
	if p.User != "" {
		facts = append(facts, map[string]any{"title": "Paged", "value": p.User})
	}
	card := AdaptiveCard{
		Schema: "http://adaptivecards.io/schemas/adaptive-card.json", Type: "AdaptiveCard", Version: "1.4",
		Body: []map[string]any{
			{"type": "TextBlock", "text": fmt.Sprintf("INC-%d: %s", p.Number, p.Title), "size": "Large", "weight": "Bolder", "wrap": true},
			{"type": "TextBlock", "text": "You are paged for this incident.", "wrap": true, "isSubtle": true},
			{"type": "FactSet", "facts": facts},
		},
	}
	if m.URL != "" {
		card.Actions = []map[string]any{{"type": "Action.OpenUrl", "title": "Open incident", "url": m.URL}}
	}
	return TeamsMessage{Type: "message", Attachments: []TeamsAttachment{{ContentType: ContentTypeAdaptiveCard, Content: card}}}
}

// Send implements Provider.
func (t *Teams) Send(ctx context.Context, m Message) error {
	if m.Page.ContactMethod == nil || m.Page.ContactMethod.Address == "" {
		return Permanent(errors.New("teams page without a webhook URL"))
	}
	body, err := json.Marshal(TeamsCard(m))
	if err != nil {
		return Permanent(fmt.Errorf("encode teams card: %w", err))
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	return postJSON(ctx, t.client, "teams", m.Page.ContactMethod.Address, h, body)
}
