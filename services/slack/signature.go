package slack

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/fault"
)

// The headers Slack signs its requests with.
const (
	HeaderSignature = "X-Slack-Signature"
	HeaderTimestamp = "X-Slack-Request-Timestamp"
)

// MaxSkew is how far a request's timestamp may be from now, either way:
// Slack's recommended replay window.
const MaxSkew = 5 * time.Minute

// Errors of Verify; all are fault.Unauthorized.
var (
	ErrSignatureMissing   = fault.New(fault.Unauthorized, "slack_signature_missing", "slack signature headers missing")
	ErrSignatureMalformed = fault.New(fault.Unauthorized, "slack_signature_malformed", "slack signature headers malformed")
	ErrSignatureExpired   = fault.New(fault.Unauthorized, "slack_signature_expired", "slack request timestamp outside the replay window")
	ErrSignatureMismatch  = fault.New(fault.Unauthorized, "slack_signature_mismatch", "slack signature does not match")
)

// Verify checks a request's v0 signature: X-Slack-Signature must be
// "v0=" + hex(HMAC-SHA256(secret, "v0:" + X-Slack-Request-Timestamp + ":" +
// body)), and the timestamp within MaxSkew of now. body is the raw request
// body, before any parsing. It returns one of the ErrSignature… errors; none
// of them carries the expected signature.
//
// Verify does not remember requests: a captured request replays within the
// window, so handlers stay idempotent (on the trigger or event id).
func Verify(secret []byte, header http.Header, body []byte, now time.Time) error {
	if len(secret) == 0 {
		// Fail closed: with no secret configured nothing is authentic.
		return fault.Wrap(ErrSignatureMismatch, "no slack signing secret configured")
	}
	sigs, stamps := header.Values(HeaderSignature), header.Values(HeaderTimestamp)
	if len(sigs) == 0 || len(stamps) == 0 || sigs[0] == "" || stamps[0] == "" {
		return ErrSignatureMissing
	}
	if len(sigs) > 1 || len(stamps) > 1 {
		return fault.Wrap(ErrSignatureMalformed, "more than one slack signature or timestamp header")
	}
	stamp, sig := stamps[0], sigs[0]
	ts, err := parseTimestamp(stamp)
	if err != nil {
		return fault.Wrap(ErrSignatureMalformed, "slack request timestamp is not unix seconds")
	}
	if skew := now.Sub(time.Unix(ts, 0)); skew > MaxSkew || skew < -MaxSkew {
		return fault.Wrap(ErrSignatureExpired, "slack request timestamp is %s off, more than %s", skew.Abs().Truncate(time.Second), MaxSkew)
	}
	if len(sig) != len("v0=")+2*sha256.Size || sig[:3] != "v0=" {
		return fault.Wrap(ErrSignatureMalformed, "slack signature is not v0=<64 hex digits>")
	}
	got, err := hex.DecodeString(sig[3:])
	if err != nil {
		return fault.Wrap(ErrSignatureMalformed, "slack signature is not v0=<64 hex digits>")
	}
	if !hmac.Equal(got, mac(secret, stamp, body)) {
		return ErrSignatureMismatch
	}
	return nil
}

// signatureDenial is the auth.denied reason of a refused request's error.
func signatureDenial(err error) string {
	switch {
	case errors.Is(err, ErrSignatureMissing):
		return events.DenyMissingSignature
	case errors.Is(err, ErrSignatureExpired):
		return events.DenyStaleSignature
	case errors.Is(err, ErrSignatureReplayed):
		return events.DenyReplayedSignature
	}
	return events.DenyInvalidSignature
}

// parseTimestamp accepts only decimal digits, where strconv would also take
// a sign.
func parseTimestamp(s string) (int64, error) {
	for _, r := range s {
		if r < '0' || r > '9' {
			return 0, strconv.ErrSyntax
		}
	}
	return strconv.ParseInt(s, 10, 64)
}

func mac(secret []byte, stamp string, body []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte("v0:" + stamp + ":"))
	h.Write(body)
	return h.Sum(nil)
}

// Sign returns the X-Slack-Signature value Slack would send for body at ts,
// for tests and fakes that play Slack.
func Sign(secret []byte, ts time.Time, body []byte) string {
	return "v0=" + hex.EncodeToString(mac(secret, strconv.FormatInt(ts.Unix(), 10), body))
}

// SignedHeader returns the two headers of a request Slack signed at ts.
func SignedHeader(secret []byte, ts time.Time, body []byte) http.Header {
	h := http.Header{}
	h.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Set(HeaderSignature, Sign(secret, ts, body))
	return h
}
