package notify_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/services/notify"
)

// mailServer is a real SMTP server (emersion/go-smtp) on a loopback port,
// offering STARTTLS with a self-signed certificate and AUTH PLAIN only over
// TLS, recording what it receives.
type mailServer struct {
	host string
	port int
	// roots trusts the server's certificate.
	roots *tls.Config

	mu   sync.Mutex
	msgs []received
	// tlsSeen records whether AUTH and DATA arrived over TLS.
	authOverTLS []bool
}

type received struct {
	from, to string
	data     string
	tls      bool
}

func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "firebreak test smtp"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true,
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

func startMailServer(t *testing.T, offerTLS bool) *mailServer {
	t.Helper()
	cert, pool := selfSigned(t)
	ms := &mailServer{roots: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &mailSession{ms: ms, conn: c}, nil
	}))
	srv.Domain = "localhost"
	srv.ErrorLog = log.New(io.Discard, "", 0)
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	if offerTLS {
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	ms.host = "127.0.0.1"
	ms.port = ln.Addr().(*net.TCPAddr).Port
	return ms
}

func (ms *mailServer) received() []received {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return append([]received(nil), ms.msgs...)
}

type mailSession struct {
	ms       *mailServer
	conn     *smtp.Conn
	authed   bool
	from, to string
}

func isTLS(c *smtp.Conn) bool { _, ok := c.TLSConnectionState(); return ok }

func (s *mailSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *mailSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		s.ms.mu.Lock()
		s.ms.authOverTLS = append(s.ms.authOverTLS, isTLS(s.conn))
		s.ms.mu.Unlock()
		if user != "pager" || pass != "s3cret-pw" {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "bad credentials"}
		}
		s.authed = true
		return nil
	}), nil
}

func (s *mailSession) Mail(from string, _ *smtp.MailOptions) error {
	if !s.authed {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "authentication required"}
	}
	s.from = from
	return nil
}

func (s *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	switch {
	case strings.HasPrefix(to, "full@"):
		return &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 2, 2}, Message: "mailbox full, try later"}
	case strings.HasPrefix(to, "nobody@"):
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	}
	s.to = to
	return nil
}

func (s *mailSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.ms.mu.Lock()
	s.ms.msgs = append(s.ms.msgs, received{from: s.from, to: s.to, data: string(b), tls: isTLS(s.conn)})
	s.ms.mu.Unlock()
	return nil
}

func (s *mailSession) Reset()        {}
func (s *mailSession) Logout() error { return nil }

func emailMessage(to string) notify.Message {
	return notify.Message{Key: "inc-1/1/alice/mail|email", Attempt: 1, URL: "https://fb.example.com/api/v1/incidents/inc-1",
		Page: events.PageRequested{IncidentID: "inc-1", Number: 42, Title: "Disk full on db1\r\nBcc: evil@example.com",
			Severity: "SEV1", Service: "checkout", Level: 1, Policy: "web", User: "alice",
			ContactMethod: &events.PageContact{Name: "mail", Type: "email", Address: to}}}
}

func TestEmailProvider(t *testing.T) {
	t.Parallel()
	ms := startMailServer(t, true)
	cfg := notify.SMTPConfig{Host: ms.host, Port: ms.port, Username: "pager", Password: "s3cret-pw",
		From: "firebreak <pager@example.com>", TLS: ms.roots}
	email, err := notify.NewEmail(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := email.Send(ctx, emailMessage("Alice <alice@example.com>")); err != nil {
		t.Fatalf("send: %v", err)
	}
	got := ms.received()
	if len(got) != 1 {
		t.Fatalf("server received %d messages, want 1", len(got))
	}
	m := got[0]
	if !m.tls || m.from != "pager@example.com" || m.to != "alice@example.com" {
		t.Fatalf("envelope %+v", m)
	}
	for _, want := range []string{"From: \"firebreak\" <pager@example.com>\r\n", "To: \"Alice\" <alice@example.com>\r\n",
		"Subject: [SEV1] INC-42 Disk full on db1  Bcc: evil@example.com\r\n", "Content-Type: text/plain; charset=utf-8\r\n",
		"X-Firebreak-Idempotency-Key: inc-1/1/alice/mail|email\r\n", "Severity: SEV1\r\n", "https://fb.example.com/api/v1/incidents/inc-1"} {
		if !strings.Contains(m.data, want) {
			t.Errorf("message lacks %q:\n%s", want, m.data)
		}
	}
	// The CRLF in the title cannot add a header.
	if hdr, _, _ := strings.Cut(m.data, "\r\n\r\n"); strings.Contains(hdr, "\r\nBcc:") || strings.Contains(m.data, "\nBcc:") {
		t.Fatalf("header injection through the title:\n%s", m.data)
	}
	if a := ms.authOverTLS; len(a) != 1 || !a[0] {
		t.Fatalf("AUTH over TLS: %v", a)
	}

	cases := []struct {
		name      string
		cfg       func(c *notify.SMTPConfig)
		to        string
		permanent bool
		reason    string
	}{
		{"mailbox full is retried", nil, "full@example.com", false, "452"},
		{"unknown mailbox is permanent", nil, "nobody@example.com", true, "550"},
		{"wrong password is permanent", func(c *notify.SMTPConfig) { c.Password = "wrong" }, "alice@example.com", true, "535"},
		{"untrusted certificate is permanent", func(c *notify.SMTPConfig) { c.TLS = nil }, "alice@example.com", true, "certificate"},
		{"bad address is permanent", nil, "not an address", true, "not valid"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := cfg
			if tc.cfg != nil {
				tc.cfg(&c)
			}
			e, err := notify.NewEmail(c, nil)
			if err != nil {
				t.Fatal(err)
			}
			err = e.Send(ctx, emailMessage(tc.to))
			if err == nil || notify.IsPermanent(err) != tc.permanent || !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("err %v (permanent %v), want permanent=%v mentioning %q", err, notify.IsPermanent(err), tc.permanent, tc.reason)
			}
			if strings.Contains(err.Error(), c.Password) {
				t.Fatalf("error quotes the password: %v", err)
			}
		})
	}
	if n := len(ms.received()); n != 1 {
		t.Fatalf("failed sends delivered mail: %d messages", n)
	}
}

func TestEmailRequiresStartTLS(t *testing.T) {
	t.Parallel()
	ms := startMailServer(t, false)
	e, err := notify.NewEmail(notify.SMTPConfig{Host: ms.host, Port: ms.port, Username: "pager", Password: "s3cret-pw",
		From: "pager@example.com", TLS: ms.roots}, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = e.Send(context.Background(), emailMessage("alice@example.com"))
	if !notify.IsPermanent(err) || !strings.Contains(err.Error(), "STARTTLS") {
		t.Fatalf("server without STARTTLS: %v, want a permanent error", err)
	}
	if len(ms.received()) != 0 || len(ms.authOverTLS) != 0 {
		t.Fatal("credentials or mail went out without TLS")
	}
}

func TestEmailTimeout(t *testing.T) {
	t.Parallel()
	// A server that accepts and never greets.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	e, err := notify.NewEmail(notify.SMTPConfig{Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port, From: "pager@example.com"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err = e.Send(ctx, emailMessage("alice@example.com"))
	if err == nil || notify.IsPermanent(err) {
		t.Fatalf("silent server: %v, want a retryable error", err)
	}
}

func TestSMTPConfigValidate(t *testing.T) {
	t.Parallel()
	off := false
	for _, tc := range []struct {
		cfg  notify.SMTPConfig
		want string
	}{
		{notify.SMTPConfig{}, ""},
		{notify.SMTPConfig{Host: "smtp.example.com", From: "pager@example.com"}, ""},
		{notify.SMTPConfig{Host: "smtp.example.com"}, "from address is required"},
		{notify.SMTPConfig{Host: "smtp.example.com", From: "nope"}, "from address"},
		{notify.SMTPConfig{Host: "smtp.example.com", Port: 70000, From: "a@b.c"}, "port"},
		{notify.SMTPConfig{Host: "smtp.example.com", From: "a@b.c", Username: "u", StartTLS: &off}, "without STARTTLS"},
		{notify.SMTPConfig{Host: "localhost", From: "a@b.c", Username: "u", StartTLS: &off}, ""},
	} {
		err := tc.cfg.Validate()
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("Validate(%+v) = %v, want %q", tc.cfg, err, tc.want)
		}
	}
}
