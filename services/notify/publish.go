package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/fault"
	"github.com/firebreak-dev/firebreak/internal/timer"
)

// TopicReporter is the topic of a status email to a vulnerability
// reporter; nobody subscribes to it.
const TopicReporter = "reporter"

// ConsumerPublished is the durable consumer of status_update.published,
// vuln.notice_published and vuln.reporter_update_requested; it also names
// their inbox rows.
const ConsumerPublished = "notify-published"

// PublishedTypes are the event types ConsumerPublished takes.
var PublishedTypes = []string{events.TypeStatusUpdatePublished, events.TypeVulnNoticePublished, events.TypeVulnReporterUpdateRequested}

// PublicStatusUpdate is what a webhook subscriber receives of a status
// update as data: the fields of the public status feed, not who approved
// it.
type PublicStatusUpdate struct {
	UpdateID    string    `json:"update_id"`
	Number      int64     `json:"number,omitempty"`
	Service     string    `json:"service,omitempty"`
	Status      string    `json:"status"`
	Title       string    `json:"title"`
	Body        string    `json:"body"`
	PublishedAt time.Time `json:"published_at"`
}

// PublicAdvisory is what a webhook subscriber receives of an advisory as
// data.
type PublicAdvisory struct {
	NoticeID    string    `json:"notice_id"`
	Title       string    `json:"title"`
	Body        string    `json:"body"`
	URL         string    `json:"url,omitempty"`
	Product     string    `json:"product,omitempty"`
	PublishedAt time.Time `json:"published_at,omitzero"`
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // plain structs of strings and times always encode
	}
	return b
}

// NoticeKey is the idempotency key of the delivery of event eventID to a
// subscriber (or, with subscriber "reporter", to the reporter).
func NoticeKey(eventID, subscriber string) string {
	return "notice/" + eventID + "/" + subscriber
}

// HandlePublished fans one published status update or notice out to the
// matching subscribers, or sends a reporter update to the reporter: in one
// transaction it records the message as processed and stores one delivery
// per recipient, keyed by (event id, subscriber), with its first attempt
// due at once. Internal status updates go to nobody. Handling an event
// twice sends nothing twice.
func (s *Service) HandlePublished(ctx context.Context, env events.Envelope) error {
	var (
		topic    string
		services []string
		notice   Notice
		reporter string
		number   int64
	)
	switch env.Type {
	case events.TypeStatusUpdatePublished:
		var u events.StatusUpdatePublished
		if err := env.DecodeData(&u); err != nil {
			return fault.Wrap(ErrInvalid, "%s %s: %v", env.Type, env.ID, err)
		}
		if u.Audience != "external" {
			return nil // internal updates are for responders, not subscribers
		}
		topic, services, notice, number = TopicStatus, []string{u.Service}, s.renderStatusUpdate(u), u.Number
		notice.Data = mustJSON(PublicStatusUpdate{UpdateID: u.UpdateID, Number: u.Number, Service: u.Service, Status: u.Status,
			Title: u.Title, Body: u.Body, PublishedAt: u.PublishedAt})
	case events.TypeVulnNoticePublished:
		var n events.VulnNotice
		if err := env.DecodeData(&n); err != nil {
			return fault.Wrap(ErrInvalid, "%s %s: %v", env.Type, env.ID, err)
		}
		topic, services, notice = TopicAdvisories, []string{n.Service, n.Product}, s.renderAdvisory(n)
		pub := PublicAdvisory{NoticeID: n.NoticeID, Title: n.Title, Body: n.Body, URL: notice.URL, Product: n.Product}
		if n.Published != nil {
			pub.PublishedAt = n.Published.UTC()
		}
		notice.Data = mustJSON(pub)
	case events.TypeVulnReporterUpdateRequested:
		var r events.VulnReporterUpdate
		if err := env.DecodeData(&r); err != nil {
			return fault.Wrap(ErrInvalid, "%s %s: %v", env.Type, env.ID, err)
		}
		if err := validateEmail(r.ReporterEmail); err != nil {
			return fault.Wrap(ErrInvalid, "%s %s: reporter address is not an email address", env.Type, env.ID)
		}
		topic, notice, reporter = TopicReporter, renderReporterUpdate(r), r.ReporterEmail
	default:
		return nil
	}
	notice.Topic, notice.EventType = topic, env.Type
	now := s.cfg.Now().UTC()
	var created, failed int
	err := s.store.InTx(ctx, func(tx Tx) error {
		created, failed = 0, 0
		first, err := tx.MarkProcessed(ctx, ConsumerPublished, env.ID)
		if err != nil || !first {
			return err
		}
		var recipients []Subscriber
		if reporter != "" {
			recipients = []Subscriber{{ID: "reporter", Kind: SubscriberEmail, Address: reporter}}
		} else {
			subs, err := tx.SubscriberList(ctx)
			if err != nil {
				return err
			}
			for _, sub := range subs {
				if sub.matches(topic, services...) {
					recipients = append(recipients, sub)
				}
			}
		}
		for _, sub := range recipients {
			n := notice
			n.Address = sub.Address
			target := "subscriber:" + sub.ID
			if reporter != "" {
				target = "reporter:" + env.Subject
			} else {
				n.SubscriberID = sub.ID
			}
			d := Delivery{Key: NoticeKey(env.ID, sub.ID), IncidentID: incidentOf(env), Number: number, EventID: env.ID, CorrelationID: env.CorrelationID,
				Provider: sub.Kind, Target: target, Status: StatusPending, Notice: &n, CreatedAt: now, UpdatedAt: now, NextAttemptAt: now}
			if _, ok := s.providers[sub.Kind]; !ok {
				d.Status, d.NextAttemptAt = StatusFailed, time.Time{}
				d.Reason = fmt.Sprintf("unsupported: %s is not configured", sub.Kind)
				if sub.Kind == SubscriberEmail {
					d.Reason = "unsupported: email is not configured (FIREBREAK_SMTP_HOST)"
				}
			}
			ok, err := tx.DeliveryCreate(ctx, d)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			if d.Status == StatusFailed {
				failed++
				continue
			}
			created++
			if err := tx.ScheduleTimer(ctx, timer.Timer{Kind: TimerDeliver, Key: d.Key, DueAt: now, CreatedAt: now}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if failed > 0 {
		s.log.Warn("notices not delivered: provider not configured", "event", env.ID, "type", env.Type, "recipients", failed)
	}
	if created > 0 {
		s.log.Info("notices queued", "event", env.ID, "type", env.Type, "recipients", created)
	}
	s.poke(false, created > 0)
	return nil
}

// incidentOf is the incident a status update is about (its deliveries
// show among the incident's notifications, by id and by number); empty
// for other events.
func incidentOf(env events.Envelope) string {
	if env.Type == events.TypeStatusUpdatePublished {
		return env.Subject
	}
	return ""
}

func (s *Service) publicLink(path string) string {
	if s.cfg.PublicURL == "" || path == "" {
		return path
	}
	if strings.HasPrefix(path, "https://") || strings.HasPrefix(path, "http://") {
		return path
	}
	return strings.TrimSuffix(s.cfg.PublicURL, "/") + path
}

// renderStatusUpdate is the message of an external status update.
func (s *Service) renderStatusUpdate(u events.StatusUpdatePublished) Notice {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\nStatus: %s\n", oneLine(u.Title), u.Status)
	if u.Service != "" {
		fmt.Fprintf(&b, "Service: %s\n", u.Service)
	}
	fmt.Fprintf(&b, "Published: %s\n\n%s\n", u.PublishedAt.UTC().Format(time.RFC1123), strings.TrimRight(u.Body, "\n"))
	n := Notice{Subject: fmt.Sprintf("[%s] %s", statusLabel(u.Status), oneLine(u.Title)), Body: b.String()}
	if s.cfg.PublicURL != "" {
		n.URL = s.publicLink("/api/v1/status/feed.json")
	}
	return n
}

func statusLabel(st string) string {
	if st == "" {
		return "Update"
	}
	return strings.ToUpper(st[:1]) + st[1:]
}

// renderAdvisory is the message of a published vulnerability notice.
func (s *Service) renderAdvisory(n events.VulnNotice) Notice {
	var b strings.Builder
	b.WriteString(oneLine(n.Title) + "\n")
	if n.Product != "" {
		b.WriteString("Product: " + n.Product + "\n")
	}
	if n.Published != nil {
		b.WriteString("Published: " + n.Published.UTC().Format(time.RFC1123) + "\n")
	}
	b.WriteString("\n" + strings.TrimRight(n.Body, "\n") + "\n")
	return Notice{Subject: "[Security advisory] " + strings.TrimPrefix(oneLine(n.Title), "Security advisory: "), Body: b.String(),
		URL: s.publicLink(n.URL)}
}

// reporterStatusText says what a status means to the person who reported
// the vulnerability.
var reporterStatusText = map[string]string{
	"acknowledged": "We have received your report and a member of our security team is looking at it.",
	"triaged":      "We have reproduced and assessed the issue and are planning a fix.",
	"released":     "A fix has been released.",
	"mitigated":    "The issue has been mitigated while a complete fix is prepared.",
	"communicated": "We have published an advisory for this issue.",
	"closed":       "We have closed this report. Thank you for helping us keep our users safe.",
	"rejected":     "After review we concluded that this report does not describe a vulnerability we will fix.",
	"duplicate":    "This issue had already been reported to us; we track it under the earlier report.",
}

// renderReporterUpdate is the status email to a reporter: the tracking id
// and the new status, nothing more (not even the title, which triage may
// have edited).
func renderReporterUpdate(r events.VulnReporterUpdate) Notice {
	var b strings.Builder
	greeting := "Hello,"
	if name := oneLine(r.ReporterName); strings.TrimSpace(name) != "" {
		greeting = "Hello " + strings.TrimSpace(name) + ","
	}
	fmt.Fprintf(&b, "%s\n\nyour security report with tracking id %s is now: %s.\n", greeting, r.TrackingID, r.Status)
	if t := reporterStatusText[r.Status]; t != "" {
		b.WriteString(t + "\n")
	}
	b.WriteString("\nPlease quote the tracking id in any reply.\n")
	return Notice{Subject: fmt.Sprintf("Your security report %s: %s", r.TrackingID, r.Status), Body: b.String()}
}
