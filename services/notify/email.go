package notify

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"github.com/firebreak-dev/firebreak/events"
)

// SMTPConfig configures the email provider (FIREBREAK_SMTP_*). Without a
// Host email pages fail as unsupported.
type SMTPConfig struct {
	// Host and Port of the submission server. Default port 587.
	Host string
	Port int
	// Username and Password authenticate with AUTH PLAIN (only over TLS);
	// empty Username sends without authenticating.
	Username string
	Password string
	// From is the sender address, e.g. "firebreak <pager@example.com>".
	From string
	// StartTLS requires STARTTLS before authenticating and sending
	// (default true; turn it off only for a relay on localhost).
	StartTLS *bool
	// TLS overrides the TLS client configuration (tests trust their own
	// CA here). ServerName defaults to Host.
	TLS *tls.Config
	// HelloName is the name sent with EHLO. Default "localhost".
	HelloName string
}

func (c SMTPConfig) startTLS() bool { return c.StartTLS == nil || *c.StartTLS }

// Validate reports configuration errors.
func (c SMTPConfig) Validate() error {
	if c.Host == "" {
		return nil
	}
	if c.Port < 0 || c.Port > 65535 {
		return fmt.Errorf("smtp port %d out of range", c.Port)
	}
	if c.From == "" {
		return errors.New("smtp from address is required with an SMTP host")
	}
	if _, err := mail.ParseAddress(c.From); err != nil {
		return fmt.Errorf("smtp from address %q: %v", c.From, err)
	}
	if c.Username != "" && !c.startTLS() && !isLocalhost(c.Host) {
		return errors.New("smtp authentication without STARTTLS is only allowed to localhost")
	}
	return nil
}

func isLocalhost(h string) bool {
	return h == "localhost" || h == "127.0.0.1" || h == "::1"
}

// Email sends pages as plain-text mail over SMTP with STARTTLS and AUTH
// PLAIN.
type Email struct {
	cfg SMTPConfig
	now func() time.Time
}

// NewEmail returns the email provider.
func NewEmail(cfg SMTPConfig, now func() time.Time) (*Email, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Port == 0 {
		cfg.Port = 587
	}
	if cfg.HelloName == "" {
		cfg.HelloName = "localhost"
	}
	if now == nil {
		now = time.Now
	}
	return &Email{cfg: cfg, now: now}, nil
}

// Name implements Provider.
func (*Email) Name() string { return events.ProviderEmail }

// Send implements Provider. SMTP 4xx replies and transport errors are
// retried; 5xx replies (an unknown mailbox, a failed login) and
// certificate errors are permanent.
func (e *Email) Send(ctx context.Context, m Message) error {
	var addr string
	switch {
	case m.Notice != nil:
		addr = m.Notice.Address
	case m.Page.ContactMethod != nil:
		addr = m.Page.ContactMethod.Address
	default:
		return Permanent(errors.New("email page without an address"))
	}
	to, err := mail.ParseAddress(addr)
	if err != nil {
		return Permanent(fmt.Errorf("email address not valid: %v", err))
	}
	from, _ := mail.ParseAddress(e.cfg.From) // validated in NewEmail
	msg := e.render(m, from, to)
	return smtpError(e.send(ctx, from.Address, to.Address, msg))
}

func (e *Email) send(ctx context.Context, from, to string, msg []byte) error {
	addr := net.JoinHostPort(e.cfg.Host, strconv.Itoa(e.cfg.Port))
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	// net/smtp has no context: the deadline and a close on cancel bound it.
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	c, err := smtp.NewClient(conn, e.cfg.Host)
	if err != nil {
		conn.Close()
		return err
	}
	defer c.Close()
	if err := c.Hello(e.cfg.HelloName); err != nil {
		return err
	}
	if e.cfg.startTLS() {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return Permanent(errors.New("smtp server does not offer STARTTLS"))
		}
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if e.cfg.TLS != nil {
			tc = e.cfg.TLS.Clone()
		}
		if tc.ServerName == "" {
			tc.ServerName = e.cfg.Host
		}
		if err := c.StartTLS(tc); err != nil {
			return err
		}
	}
	if e.cfg.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", e.cfg.Username, e.cfg.Password, e.cfg.Host)); err != nil {
			return err
		}
	}
	if err := c.Mail(from); err != nil {
		return err
	}
	if err := c.Rcpt(to); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(msg); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

// render builds the RFC 5322 message: headers (the subject encoded when
// it is not ASCII) and a plain-text body with CRLF line ends.
func (e *Email) render(m Message, from, to *mail.Address) []byte {
	var b strings.Builder
	id := make([]byte, 12)
	_, _ = rand.Read(id)
	host := e.cfg.HelloName
	if at := strings.LastIndexByte(from.Address, '@'); at >= 0 {
		host = from.Address[at+1:]
	}
	hdr := []struct{ k, v string }{
		{"From", from.String()},
		{"To", to.String()},
		{"Subject", mime.QEncoding.Encode("utf-8", m.Subject())},
		{"Date", e.now().UTC().Format(time.RFC1123Z)},
		{"Message-ID", "<" + hex.EncodeToString(id) + "@" + host + ">"},
		{"MIME-Version", "1.0"},
		{"Content-Type", "text/plain; charset=utf-8"},
		{"Content-Transfer-Encoding", "8bit"},
		{"X-Firebreak-Idempotency-Key", sanitizeHeader(m.Key)},
	}
	if m.Unsubscribe != "" {
		// RFC 2369 and RFC 8058: mail clients offer a one-click
		// unsubscribe, which POSTs to the link.
		hdr = append(hdr, struct{ k, v string }{"List-Unsubscribe", "<" + sanitizeHeader(m.Unsubscribe) + ">"},
			struct{ k, v string }{"List-Unsubscribe-Post", "List-Unsubscribe=One-Click"})
	}
	for _, h := range hdr {
		b.WriteString(h.k + ": " + h.v + "\r\n")
	}
	b.WriteString("\r\n")
	for line := range strings.SplitSeq(m.Body(), "\n") {
		// A line of a lone "." would end DATA early; net/smtp's dot-writer
		// escapes it, but keep lines free of bare CRs too.
		b.WriteString(strings.ReplaceAll(line, "\r", "") + "\r\n")
	}
	return []byte(b.String())
}

func sanitizeHeader(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, s)
}

// smtpError classifies an SMTP failure.
func smtpError(err error) error {
	if err == nil || IsPermanent(err) {
		return err
	}
	var pe *textproto.Error
	if errors.As(err, &pe) {
		e := fmt.Errorf("smtp %d %s", pe.Code, pe.Msg)
		if pe.Code >= 500 {
			return Permanent(e)
		}
		return e
	}
	var ce *tls.CertificateVerificationError
	var ue x509.UnknownAuthorityError
	var he x509.HostnameError
	if errors.As(err, &ce) || errors.As(err, &ue) || errors.As(err, &he) {
		return Permanent(fmt.Errorf("smtp TLS: %w", err))
	}
	return fmt.Errorf("smtp: %w", err)
}
