package notify

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/firebreak-dev/firebreak/events"
)

// Provider delivers a page through one channel of communication: Slack,
// email, a signed webhook or Microsoft Teams. Send returns nil once the
// provider accepted the page. A failure that retrying cannot fix (a 4xx, an
// unknown Slack user, an SMTP 5xx) is wrapped with Permanent; a rate limit
// with RetryAfter; anything else (5xx, timeouts, refused connections) is
// retried with backoff.
type Provider interface {
	// Name is the provider's name, one of events.Provider*.
	Name() string
	// Send delivers m. It must return when ctx ends.
	Send(ctx context.Context, m Message) error
}

// Message is a page as the providers render it.
type Message struct {
	// Key is the delivery's idempotency key; the webhook provider sends it
	// as the Idempotency-Key header.
	Key  string
	Page events.PageRequested
	// URL links to the incident in the API (empty without a public URL).
	URL string
	// Attempt counts from 1.
	Attempt int
	// Notice is set, and Page empty, for a message to a subscriber or a
	// vulnerability reporter.
	Notice *Notice
	// Unsubscribe is the subscriber's unsubscribe link (empty for pages
	// and reporter updates).
	Unsubscribe string
}

// Subject is the one-line summary every provider shows.
func (m Message) Subject() string {
	if m.Notice != nil {
		return oneLine(m.Notice.Subject)
	}
	if a := m.Page.ActionItem; a != nil {
		return fmt.Sprintf("Overdue action item of INC-%d: %s", m.Page.Number, oneLine(a.Title))
	}
	return fmt.Sprintf("[%s] INC-%d %s", m.Page.Severity, m.Page.Number, oneLine(m.Page.Title))
}

// actionItemLines describe the overdue action item of a page: which item,
// of which incident, how overdue, and its tracker.
func actionItemLines(p events.PageRequested) []string {
	a := p.ActionItem
	lines := []string{
		"Action item: " + oneLine(a.Title) + " (" + a.ID + ")",
		fmt.Sprintf("Incident: INC-%d %s", p.Number, oneLine(p.Title)),
		fmt.Sprintf("Owner: %s", a.Owner),
		fmt.Sprintf("Due: %s, overdue by %s", a.Due, a.Overdue()),
	}
	if a.TrackerURL != "" {
		lines = append(lines, "Tracker: "+a.TrackerURL)
	}
	return lines
}

// oneLine replaces control characters (line breaks in an alert's title)
// with spaces.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

// Body is the plain-text description of the page.
func (m Message) Body() string {
	if n := m.Notice; n != nil {
		s := n.Body
		if n.URL != "" {
			s += "\nMore: " + n.URL + "\n"
		}
		if m.Unsubscribe != "" {
			s += "\n--\nYou receive this because you subscribed to " + n.Topic + " updates.\nUnsubscribe: " + m.Unsubscribe + "\n"
		}
		return s
	}
	p := m.Page
	if p.ActionItem != nil {
		s := "You own a post-mortem action item that is past its due date.\n" + strings.Join(actionItemLines(p), "\n") + "\n"
		if m.URL != "" {
			s += "Incident link: " + m.URL + "\n"
		}
		return s
	}
	s := fmt.Sprintf("INC-%d %s\nSeverity: %s\nService: %s\nEscalation: policy %s, level %d\n",
		p.Number, oneLine(p.Title), p.Severity, p.Service, p.Policy, p.Level)
	if m.URL != "" {
		s += "Incident: " + m.URL + "\n"
	}
	return s
}

// sendError classifies a provider failure.
type sendError struct {
	err        error
	permanent  bool
	retryAfter time.Duration
}

func (e *sendError) Error() string { return e.err.Error() }
func (e *sendError) Unwrap() error { return e.err }

// Permanent marks err as a failure that retrying cannot fix.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &sendError{err: err, permanent: true}
}

// RetryAfter marks err as a rate limit: the next attempt waits at least d.
func RetryAfter(err error, d time.Duration) error {
	if err == nil {
		return nil
	}
	return &sendError{err: err, retryAfter: d}
}

// IsPermanent reports whether err was marked Permanent.
func IsPermanent(err error) bool {
	var se *sendError
	return errors.As(err, &se) && se.permanent
}

// retryAfterOf returns the wait a rate limit asked for (0 for none).
func retryAfterOf(err error) time.Duration {
	var se *sendError
	if errors.As(err, &se) {
		return se.retryAfter
	}
	return 0
}

// ErrUnsupported is the reason of a page through a contact method type no
// provider delivers (or whose provider is not configured).
var ErrUnsupported = errors.New("unsupported")

// RetryAfterOf returns the wait a rate-limited failure asked for, 0 for
// any other error.
func RetryAfterOf(err error) time.Duration { return retryAfterOf(err) }
