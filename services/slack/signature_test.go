package slack_test

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/firebreak-dev/firebreak/internal/fault"
	"github.com/firebreak-dev/firebreak/services/slack"
)

var secret = []byte("8f742231b10e8888abcd99yyyzzz85a5")

func TestVerify(t *testing.T) {
	t.Parallel()
	now := time.Unix(1764297000, 0)
	body := []byte("payload=%7B%22type%22%3A%22block_actions%22%7D")
	signed := func(ts time.Time, b []byte) http.Header { return slack.SignedHeader(secret, ts, b) }
	with := func(h http.Header, key string, vals ...string) http.Header {
		h = h.Clone()
		h.Del(key)
		for _, v := range vals {
			h.Add(key, v)
		}
		return h
	}
	valid := signed(now, body)
	flipped := []byte(valid.Get(slack.HeaderSignature)) // last hex digit changed
	if flipped[len(flipped)-1] == '0' {
		flipped[len(flipped)-1] = '1'
	} else {
		flipped[len(flipped)-1] = '0'
	}

	for _, tc := range []struct {
		name   string
		secret []byte
		header http.Header
		body   []byte
		want   error // nil: accepted
	}{
		{"valid", secret, valid, body, nil},
		{"valid 5 minutes old", secret, signed(now.Add(-slack.MaxSkew), body), body, nil},
		{"valid 5 minutes ahead", secret, signed(now.Add(slack.MaxSkew), body), body, nil},
		{"empty body", secret, signed(now, nil), nil, nil},
		{"forged with another secret", secret, slack.SignedHeader([]byte("guess"), now, body), body, slack.ErrSignatureMismatch},
		{"last digit changed", secret, with(valid, slack.HeaderSignature, string(flipped)), body, slack.ErrSignatureMismatch},
		{"replay with modified body", secret, valid, []byte("payload=%7B%22type%22%3A%22view_submission%22%7D"), slack.ErrSignatureMismatch},
		{"replay with new timestamp", secret, with(valid, slack.HeaderTimestamp, strconv.FormatInt(now.Unix()+1, 10)), body, slack.ErrSignatureMismatch},
		{"stale", secret, signed(now.Add(-slack.MaxSkew-time.Second), body), body, slack.ErrSignatureExpired},
		{"future", secret, signed(now.Add(slack.MaxSkew+time.Second), body), body, slack.ErrSignatureExpired},
		{"no headers", secret, http.Header{}, body, slack.ErrSignatureMissing},
		{"no signature", secret, with(valid, slack.HeaderSignature), body, slack.ErrSignatureMissing},
		{"no timestamp", secret, with(valid, slack.HeaderTimestamp), body, slack.ErrSignatureMissing},
		{"two signatures", secret, with(valid, slack.HeaderSignature, valid.Get(slack.HeaderSignature), "v0=00"), body, slack.ErrSignatureMalformed},
		{"timestamp not a number", secret, with(valid, slack.HeaderTimestamp, "yesterday"), body, slack.ErrSignatureMalformed},
		{"timestamp with sign", secret, with(valid, slack.HeaderTimestamp, "+"+strconv.FormatInt(now.Unix(), 10)), body, slack.ErrSignatureMalformed},
		{"timestamp overflow", secret, with(valid, slack.HeaderTimestamp, strings.Repeat("9", 30)), body, slack.ErrSignatureMalformed},
		{"version v1", secret, with(valid, slack.HeaderSignature, "v1="+valid.Get(slack.HeaderSignature)[3:]), body, slack.ErrSignatureMalformed},
		{"not hex", secret, with(valid, slack.HeaderSignature, "v0="+strings.Repeat("zz", 32)), body, slack.ErrSignatureMalformed},
		{"truncated", secret, with(valid, slack.HeaderSignature, valid.Get(slack.HeaderSignature)[:40]), body, slack.ErrSignatureMalformed},
		{"no secret configured", nil, valid, body, slack.ErrSignatureMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := slack.Verify(tc.secret, tc.header, tc.body, now)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Verify = %v, want accepted", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
			if !errors.Is(err, fault.Unauthorized) {
				t.Errorf("kind = %v, want unauthorized", fault.KindOf(err))
			}
			expected := slack.Sign(tc.secret, now, tc.body)
			if strings.Contains(err.Error(), expected[3:]) || strings.Contains(err.Error(), expected[3:11]) {
				t.Errorf("error %q leaks the expected signature", err)
			}
		})
	}
}

// TestVerifyMatchesSlackGo checks Verify against slack-go's SecretsVerifier
// on the same inputs. slack-go reads the real clock, so the timestamps are
// relative to it and stay clear of the window's edges.
func TestVerifyMatchesSlackGo(t *testing.T) {
	t.Parallel()
	now := time.Now()
	body := []byte(`{"type":"event_callback","event_id":"Ev1"}`)
	for _, tc := range []struct {
		name   string
		header http.Header
		body   []byte
	}{
		{"valid", slack.SignedHeader(secret, now, body), body},
		{"valid 4 minutes old", slack.SignedHeader(secret, now.Add(-4*time.Minute), body), body},
		{"forged", slack.SignedHeader([]byte("other"), now, body), body},
		{"modified body", slack.SignedHeader(secret, now, body), []byte(`{"type":"event_callback","event_id":"Ev2"}`)},
		{"stale", slack.SignedHeader(secret, now.Add(-6*time.Minute), body), body},
		{"future", slack.SignedHeader(secret, now.Add(6*time.Minute), body), body},
		{"missing", http.Header{}, body},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ours := slack.Verify(secret, tc.header, tc.body, now)
			theirs := slackGoVerify(tc.header, tc.body)
			if (ours == nil) != (theirs == nil) {
				t.Errorf("Verify = %v, slack-go = %v", ours, theirs)
			}
		})
	}
}

func slackGoVerify(h http.Header, body []byte) error {
	sv, err := slackapi.NewSecretsVerifier(h, string(secret))
	if err != nil {
		return err
	}
	if _, err := sv.Write(body); err != nil {
		return err
	}
	return sv.Ensure()
}
