package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/firebreak-dev/firebreak/events"
)

// Webhook headers.
const (
	// HeaderSignature carries "t=<unix seconds>,v1=<hex HMAC-SHA256 of
	// "<t>.<body>">".
	HeaderSignature = "X-Firebreak-Signature"
	// HeaderTimestamp repeats the signed timestamp (unix seconds).
	HeaderTimestamp = "X-Firebreak-Timestamp"
	// HeaderIdempotencyKey is the delivery's key: every attempt of one
	// delivery carries the same one, so receivers can drop repeats.
	HeaderIdempotencyKey = "Idempotency-Key"
	// HeaderEvent names the payload's type.
	HeaderEvent = "X-Firebreak-Event"
)

// WebhookPayload is the JSON body the webhook provider posts.
type WebhookPayload struct {
	Type           string               `json:"type"` // "page"
	IdempotencyKey string               `json:"idempotency_key"`
	Attempt        int                  `json:"attempt"`
	Summary        string               `json:"summary"`
	URL            string               `json:"url,omitempty"`
	Page           events.PageRequested `json:"page"`
}

// NoticePayload is the JSON body the webhook provider posts for a status
// update or an advisory to a subscriber.
type NoticePayload struct {
	// Type is "status_update" or "advisory".
	Type           string `json:"type"`
	IdempotencyKey string `json:"idempotency_key"`
	Attempt        int    `json:"attempt"`
	Summary        string `json:"summary"`
	Text           string `json:"text"`
	URL            string `json:"url,omitempty"`
	UnsubscribeURL string `json:"unsubscribe_url,omitempty"`
	// EventType is the published event's type; Data its public fields
	// (PublicStatusUpdate or PublicAdvisory), never who approved it.
	EventType string          `json:"event_type"`
	Data      json.RawMessage `json:"data,omitempty"`
}

func noticeType(topic string) string {
	if topic == TopicAdvisories {
		return "advisory"
	}
	return "status_update"
}

// Webhook posts pages as signed JSON to the contact method's URL.
type Webhook struct {
	client *http.Client
	// secret signs bodies; secrets maps a contact address to its own
	// secret, which wins over secret.
	secret  string
	secrets map[string]string
	now     func() time.Time
}

// NewWebhook returns the webhook provider. client may be nil
// (http.DefaultClient is not used: a client with no redirects is).
func NewWebhook(client *http.Client, secret string, perContact map[string]string, now func() time.Time) *Webhook {
	if client == nil {
		client = newHTTPClient()
	}
	if now == nil {
		now = time.Now
	}
	return &Webhook{client: client, secret: secret, secrets: perContact, now: now}
}

// Name implements Provider.
func (*Webhook) Name() string { return events.ProviderWebhook }

// Send implements Provider.
func (w *Webhook) Send(ctx context.Context, m Message) error {
	var (
		addr, event string
		body        []byte
		err         error
	)
	switch {
	case m.Notice != nil && m.Notice.Address != "":
		addr, event = m.Notice.Address, noticeType(m.Notice.Topic)
		body, err = json.Marshal(NoticePayload{Type: event, IdempotencyKey: m.Key, Attempt: m.Attempt, Summary: m.Subject(),
			Text: m.Notice.Body, URL: m.Notice.URL, UnsubscribeURL: m.Unsubscribe, EventType: m.Notice.EventType, Data: m.Notice.Data})
	case m.Notice == nil && m.Page.ContactMethod != nil && m.Page.ContactMethod.Address != "":
		addr, event = m.Page.ContactMethod.Address, "page"
		body, err = json.Marshal(WebhookPayload{Type: "page", IdempotencyKey: m.Key, Attempt: m.Attempt,
			Summary: m.Subject(), URL: m.URL, Page: redactPage(m.Page)})
	default:
		return Permanent(errors.New("webhook page without a URL"))
	}
	if err != nil {
		return Permanent(fmt.Errorf("encode webhook body: %w", err))
	}
	secret := w.secret
	if s, ok := w.secrets[addr]; ok {
		secret = s
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set(HeaderIdempotencyKey, m.Key)
	h.Set(HeaderEvent, event)
	ts := w.now().Unix()
	h.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	if secret != "" {
		h.Set(HeaderSignature, Sign(secret, ts, body))
	}
	return postJSON(ctx, w.client, "webhook", addr, h, body)
}

// Sign returns the X-Firebreak-Signature value of body sent at ts:
// "t=<ts>,v1=<hex HMAC-SHA256(secret, "<ts>.<body>")>".
func Sign(secret string, ts int64, body []byte) string {
	return "t=" + strconv.FormatInt(ts, 10) + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret string, ts int64, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(strconv.FormatInt(ts, 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Signature errors of Verify.
var (
	ErrSignatureMalformed = errors.New("malformed signature header")
	ErrSignatureMismatch  = errors.New("signature does not match")
	ErrSignatureStale     = errors.New("signature timestamp outside the tolerance")
)

// ParseSignature parses an X-Firebreak-Signature header into its timestamp
// and v1 MACs (a header may carry several v1 values while a secret is
// rotated).
func ParseSignature(header string) (ts int64, macs [][]byte, err error) {
	tsSeen := false
	for part := range strings.SplitSeq(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return 0, nil, ErrSignatureMalformed
		}
		switch k {
		case "t":
			if tsSeen {
				return 0, nil, ErrSignatureMalformed
			}
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return 0, nil, ErrSignatureMalformed
			}
			ts, tsSeen = n, true
		case "v1":
			b, err := hex.DecodeString(v)
			if err != nil || len(b) != sha256.Size {
				return 0, nil, ErrSignatureMalformed
			}
			macs = append(macs, b)
		}
	}
	if !tsSeen || len(macs) == 0 {
		return 0, nil, ErrSignatureMalformed
	}
	return ts, macs, nil
}

// Verify checks a webhook request's signature header against body, as a
// receiver does: the timestamp must be within tolerance of now and one v1
// MAC must match (compared in constant time).
func Verify(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	ts, macs, err := ParseSignature(header)
	if err != nil {
		return err
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return ErrSignatureStale
	}
	want := mac(secret, ts, body)
	for _, m := range macs {
		if hmac.Equal(m, want) {
			return nil
		}
	}
	return ErrSignatureMismatch
}

// redactPage drops the contact address from the page a receiver sees: the
// receiver is the address, and a Teams or webhook URL may hold a secret.
func redactPage(p events.PageRequested) events.PageRequested {
	if p.ContactMethod != nil {
		c := *p.ContactMethod
		c.Address = ""
		p.ContactMethod = &c
	}
	return p
}

// maxErrorBody is how much of an error response's body a reason quotes.
const maxErrorBody = 200

// postJSON posts body to addr and classifies the outcome: 2xx is delivered;
// 408, 429 (honouring Retry-After) and 5xx are retried; other statuses are
// permanent. Errors never quote addr, which may hold a secret.
func postJSON(ctx context.Context, client *http.Client, what, addr string, h http.Header, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, addr, bytes.NewReader(body))
	if err != nil {
		return Permanent(fmt.Errorf("%s URL is not valid", what))
	}
	req.Header = h
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("%s timed out", what)
		}
		return fmt.Errorf("%s: %w", what, err)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	err = fmt.Errorf("%s answered %s", what, resp.Status)
	if s := strings.TrimSpace(string(snippet)); s != "" && resp.StatusCode < 500 {
		err = fmt.Errorf("%w: %s", err, strings.ToValidUTF8(s, "?"))
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		return RetryAfter(err, parseRetryAfter(resp.Header.Get("Retry-After")))
	case resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode >= 500:
		return err
	default:
		return Permanent(err)
	}
}

// parseRetryAfter reads a Retry-After header in seconds (the form Slack,
// Teams and most APIs use); anything else is 0.
func parseRetryAfter(v string) time.Duration {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 0 {
		return 0
	}
	return time.Duration(min(n, 3600)) * time.Second
}

// newHTTPClient is the providers' default client: it does not follow
// redirects (a redirect could carry the signed body elsewhere) and bounds
// each request.
func newHTTPClient() *http.Client {
	return &http.Client{
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
