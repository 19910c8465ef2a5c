// Package notifytest holds test helpers of the notify service.
package notifytest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/firebreak-dev/firebreak/internal/slackfake"
)

// SlackDM puts conversations.open, which internal/slackfake does not model
// yet, in front of a fake: it answers conversations.open for one user with
// a channel it seeds in the fake ("dm-<user>", the user a member), the same
// one every time, and passes every other method on to the fake. Messages
// "sent to a user" are then found with fake.Messages(dm.Channel(user)).
type SlackDM struct {
	// APIURL is what slack.OptionAPIURL takes.
	APIURL string

	fake *slackfake.Server
	mu   sync.Mutex
	dms  map[string]string // user id → channel id
	open int
}

// NewSlackDM starts the shim in front of fake; it stops when the test ends.
func NewSlackDM(t testing.TB, fake *slackfake.Server) *SlackDM {
	t.Helper()
	target, err := url.Parse(fake.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	d := &SlackDM{fake: fake, dms: map[string]string{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/conversations.open" {
			proxy.ServeHTTP(w, r)
			return
		}
		d.conversationsOpen(w, r)
	}))
	t.Cleanup(srv.Close)
	d.APIURL = srv.URL + "/api/"
	return d
}

func (d *SlackDM) conversationsOpen(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if err := r.ParseForm(); err != nil {
		_ = json.NewEncoder(w).Encode(map[string]any{"ok": false, "error": "invalid_form_data"})
		return
	}
	tok := r.Form.Get("token")
	if b, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		tok = b
	}
	if tok != d.fake.Token {
		_ = json.NewEncoder(w).Encode(map[string]any{"ok": false, "error": "invalid_auth"})
		return
	}
	users := strings.Split(r.Form.Get("users"), ",")
	if len(users) != 1 || users[0] == "" {
		_ = json.NewEncoder(w).Encode(map[string]any{"ok": false, "error": "users_list_not_supplied"})
		return
	}
	d.mu.Lock()
	d.open++
	id, ok := d.dms[users[0]]
	if !ok {
		id = d.fake.AddChannel("dm-"+strings.ToLower(users[0]), users[0])
		d.dms[users[0]] = id
	}
	d.mu.Unlock()
	_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "channel": map[string]any{"id": id, "is_im": true}})
}

// Channel returns the direct-message channel of user ("" before one was
// opened).
func (d *SlackDM) Channel(user string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.dms[user]
}

// Opens counts the conversations.open calls answered.
func (d *SlackDM) Opens() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.open
}
