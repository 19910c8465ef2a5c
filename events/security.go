package events

// Security event types the HTTP API emits about its callers: a request
// refused by authentication or authorization, and a token's use. Both are
// throttled at the source (see internal/httpapi), so one event can stand
// for many requests.
const (
	TypeAuthDenied = "auth.denied"
	TypeTokenUsed  = "token.used"
)

// Reasons a request is denied (AuthDenied.Reason).
const (
	// DenyMissingToken: the request carried no bearer token.
	DenyMissingToken = "missing_token"
	// DenyInvalidToken: the bearer token is malformed, unknown, revoked or
	// has a wrong secret; the API does not tell which, to anyone.
	DenyInvalidToken = "invalid_token"
	// DenyMissingScope: the token is valid but lacks the route's scope.
	DenyMissingScope = "missing_scope"

	// The reasons of intake's endpoints, which authenticate integrations
	// themselves (PagerDuty's Events API, Alertmanager, Grafana, generic):

	// DenyMissingIntegrationKey: an Alertmanager or generic webhook
	// carried no bearer key.
	DenyMissingIntegrationKey = "missing_integration_key"
	// DenyInvalidIntegrationKey: the integration key (routing key or
	// bearer) is malformed, unknown or revoked.
	DenyInvalidIntegrationKey = "invalid_integration_key"
	// DenyIntegrationType: the key is an active integration's, of another
	// type than the endpoint's (Integration names it).
	DenyIntegrationType = "wrong_integration_type"
	// DenyUnknownIntegration: a Grafana webhook named no active
	// integration (Integration is the id it named).
	DenyUnknownIntegration = "unknown_integration"

	// The reasons of signed requests (Grafana's webhook, Slack's
	// interactions and slash commands):

	// DenyMissingSignature: the signature, or a required signature
	// timestamp, is missing.
	DenyMissingSignature = "missing_signature"
	// DenyInvalidSignature: the signature or its timestamp is malformed,
	// or the signature does not match the body.
	DenyInvalidSignature = "invalid_signature"
	// DenyStaleSignature: the signature's timestamp is outside the replay
	// window (too old or in the future).
	DenyStaleSignature = "stale_signature"
	// DenyReplayedSignature: a validly signed request received before.
	DenyReplayedSignature = "replayed_signature"

	// A 403 a handler decides for a valid token takes the handler's error
	// code as reason, e.g. "self_approval" (four-eyes: the author of a
	// status update or vulnerability notice cannot approve it).
)

// AuthDenied says the API refused a request: 401 for a missing or invalid
// token, 403 for a token without the route's scope or for what a handler
// forbids a valid token, and the refusals of the intake and Slack endpoints
// (a bad integration key or signature: 401, or 400 on PagerDuty's Events
// API, as PagerDuty answers). It never carries a token's secret, an
// integration key or a signature. Identical denials (same token or, without a verified
// token, same remote address; same route; same reason) are reported at
// most once per window: Suppressed counts those of the key that were not
// reported on their own since the previous event, so the denials a key
// saw are the number of its events plus the sum of their Suppressed.
type AuthDenied struct {
	Reason string `json:"reason"`
	Status int    `json:"status"`
	Method string `json:"method"`
	// Route is the pattern the request matched ("POST /api/v1/alerts").
	Route string `json:"route"`
	// Scope is the scope the route requires; empty for the public routes
	// of integrations and Slack, which take no token.
	Scope string `json:"scope,omitempty"`
	// TokenID is the id of the presented token: verified for
	// missing_scope, only claimed by the caller for invalid_token.
	TokenID string `json:"token_id,omitempty"`
	// Integration is the id of the integration a refused intake request
	// named (Grafana's path, only claimed) or whose key it presented on
	// an endpoint of another type (verified).
	Integration string `json:"integration,omitempty"`
	// Principal is who a valid token belongs to (missing_scope and a
	// handler's 403).
	Principal string `json:"principal,omitempty"`
	// RemoteAddr is the caller's IP address as the server saw it (a proxy's
	// when behind one).
	RemoteAddr string `json:"remote_addr"`
	// UserAgent is the caller's User-Agent, truncated.
	UserAgent  string `json:"user_agent,omitempty"`
	Suppressed int    `json:"suppressed,omitempty"`
	// Overflow marks an event that stands for denials of many keys: the
	// throttle's table was full, so this route's denials for this reason
	// were counted together.
	Overflow bool `json:"overflow,omitempty"`
}

// TokenUsed says an API token authenticated requests. It is reported on a
// token's first use in a process and then at most once per interval, with
// the number of uses since the previous report and the route and address
// of the latest one (a "last used" record, not a request log).
type TokenUsed struct {
	// TokenID is the scoped token's id; empty for the bootstrap admin token.
	TokenID   string `json:"token_id,omitempty"`
	Principal string `json:"principal"`
	Method    string `json:"method"`
	Route     string `json:"route"`
	// RemoteAddr is the caller's IP address as the server saw it.
	RemoteAddr string `json:"remote_addr"`
	UserAgent  string `json:"user_agent,omitempty"`
	// Uses is how many requests the token authenticated since the previous
	// token.used event of this process (at least 1).
	Uses int `json:"uses"`
}

func exampleAuthDenied() any {
	return AuthDenied{Reason: DenyMissingScope, Status: 403, Method: "POST", Route: "POST /api/v1/alerts",
		Scope: "incidents:write", TokenID: "9f86d081884c7d65", Principal: "grafana", RemoteAddr: "203.0.113.7",
		UserAgent: "curl/8.5.0", Suppressed: 41}
}

func exampleTokenUsed() any {
	return TokenUsed{TokenID: "9f86d081884c7d65", Principal: "grafana", Method: "POST", Route: "POST /api/v1/alerts",
		RemoteAddr: "203.0.113.7", UserAgent: "Grafana/11.3.0", Uses: 1250}
}
