// Package notify is the notify service: it consumes page.requested and
// delivers each page through a Provider (Slack, email, a signed webhook or
// Microsoft Teams), once per idempotency key, retrying failures with
// jittered exponential backoff on durable timers, and tells the rest of the
// system how it went with notification.sent and notification.failed
// through the outbox. See docs/adr/0007-notification-delivery.md.
package notify

import (
	"github.com/firebreak-dev/firebreak/internal/fault"
)

// Name is the service name.
const Name = "notify"

// ConsumerPages is the durable consumer of page.requested; it also names
// their inbox rows.
const ConsumerPages = "notify-pages"

// TimerDeliver is the kind of the timers that run delivery attempts, keyed
// by delivery key.
const TimerDeliver = "deliver"

// Sentinel errors.
var (
	ErrNotFound = fault.New(fault.NotFound, "not_found", "not found")
	ErrInvalid  = fault.New(fault.Invalid, "invalid_page", "invalid page")
	ErrConflict = fault.New(fault.Conflict, "conflict", "conflict")
)
