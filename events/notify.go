package events

// Event types of the notify service: the outcome of each delivery of a page.
const (
	TypeNotificationSent   = "notification.sent"
	TypeNotificationFailed = "notification.failed"
)

// Notification providers (NotificationSent.Provider): how a page went out.
const (
	ProviderSlack   = "slack"
	ProviderEmail   = "email"
	ProviderWebhook = "webhook"
	ProviderTeams   = "teams"
)

// NotificationSent says the notify service delivered a page: the provider
// accepted it (Slack answered ok, the SMTP server took the message, the
// webhook answered 2xx).
type NotificationSent struct {
	IncidentID string `json:"incident_id"`
	Number     int64  `json:"number"`
	// DeliveryKey is the delivery's idempotency key (the page's key and
	// the provider).
	DeliveryKey string `json:"delivery_key"`
	// PageKey is the idempotency key of the page.requested delivered.
	PageKey  string `json:"page_key"`
	Provider string `json:"provider"`
	Level    int    `json:"level"`
	// User is the person paged; empty for a channel post.
	User string `json:"user,omitempty"`
	// ContactMethod names the user's contact method used (never its
	// address, which may hold a secret).
	ContactMethod string `json:"contact_method,omitempty"`
	// Channel is the Slack channel of a channel page.
	Channel string `json:"channel,omitempty"`
	// Attempts counts the attempts it took, this one included.
	Attempts int `json:"attempts"`
}

// NotificationFailed says a page could not be delivered: the provider
// refused it for good (Reason), or every retry failed. The escalation
// service answers it by sending the user's next notification rule at once.
type NotificationFailed struct {
	NotificationSent
	Reason string `json:"reason"`
	// RuleDelayMinutes is the delay of the notification rule whose page
	// failed.
	RuleDelayMinutes int `json:"rule_delay_minutes"`
}
