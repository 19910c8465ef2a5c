// Package slackfake is an in-process Slack Web API for tests: an httptest
// server that speaks Slack's wire format (form or JSON requests, {"ok":…}
// responses, 429 with Retry-After) for the handful of methods firebreak calls,
// so the real slack-go client can be pointed at it with
// slack.OptionAPIURL(fake.APIURL).
//
// It keeps state (channels, messages, topics, members, users), records every
// call for assertions and can be told to fail. It checks what Slack checks
// where firebreak depends on it (token, channel and user ids, channel names,
// unknown message ts, conversations.history taking ids only) and nothing
// more: scopes, not_in_channel and paging are not modelled. Messages keep
// their metadata, which conversations.history returns with
// include_all_metadata.
package slackfake

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// Config tunes the fake; the zero value works.
type Config struct {
	// Token is the only bot token accepted; default "xoxb-firebreak-test".
	Token string
	// AppToken is the only app-level token apps.connections.open accepts;
	// default "xapp-1-firebreak-test".
	AppToken string
	// TeamID and Team name the workspace; defaults "T00000001", "firebreak".
	TeamID string
	Team   string
	// BotUserID and BotID identify the bot that owns Token; defaults
	// "U0BOT0001" and "B0BOT0001". The bot is a user (users.info finds it).
	BotUserID string
	BotID     string
	// Now is the fake's clock for message ts and created times; default time.Now.
	Now func() time.Time
}

func (c *Config) setDefaults() {
	if c.Token == "" {
		c.Token = "xoxb-firebreak-test"
	}
	if c.TeamID == "" {
		c.TeamID = "T00000001"
	}
	if c.Team == "" {
		c.Team = "firebreak"
	}
	if c.BotUserID == "" {
		c.BotUserID = "U0BOT0001"
	}
	if c.BotID == "" {
		c.BotID = "B0BOT0001"
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.AppToken == "" {
		c.AppToken = "xapp-1-firebreak-test"
	}
}

// User is a workspace member as a test seeds it.
type User struct {
	ID          string // assigned (U…) by AddUser if empty
	Name        string // the handle
	RealName    string
	DisplayName string
	Email       string
	TZ          string
	IsBot       bool
	Deleted     bool
}

// Channel is a conversation's state.
type Channel struct {
	ID        string
	Name      string
	IsPrivate bool
	Created   time.Time
	Creator   string
	Topic     string
	Members   []string // user ids, in the order they joined
}

// Message is a channel message in its latest version.
type Message struct {
	Channel  string
	TS       string
	ThreadTS string
	Text     string
	// Blocks is the Block Kit array as sent, or nil if the message has none.
	Blocks json.RawMessage
	User   string // the bot user that posted it
	// Updates counts the chat.update calls applied to the message.
	Updates int
	// Ephemeral messages are shown to one user (EphemeralTo) and never updated.
	Ephemeral   bool
	EphemeralTo string
	// Metadata is the message metadata as sent (chat.postMessage's
	// metadata: event_type and event_payload), nil for none.
	Metadata json.RawMessage
}

// Call is one request the fake received.
type Call struct {
	Method string // e.g. "chat.postMessage"
	// Params holds the form fields (or, for a JSON body, its top-level
	// fields, non-strings as JSON text), without the token.
	Params url.Values
	// JSON is the raw body of a JSON request, nil for a form request.
	JSON  json.RawMessage
	Token string
	// Status and Error are what the fake answered: HTTP status and Slack's
	// "error" code ("" when ok).
	Status int
	Error  string
	// At is when the fake answered the call (wall clock, not Config.Now),
	// for latency measurements.
	At time.Time
}

// Server is a running fake. Its methods are safe for concurrent use.
type Server struct {
	// URL is the server's base URL; APIURL is URL+"/api/", what
	// slack.OptionAPIURL takes.
	URL    string
	APIURL string
	// Token is the accepted bot token.
	Token string
	// AppToken is the accepted app-level token (Socket Mode).
	AppToken string

	cfg Config
	// socket is the Socket Mode side of the fake (socket.go).
	socket socketState
	srv    *httptest.Server

	mu         sync.Mutex
	changed    chan struct{} // closed and replaced on every call
	calls      []Call
	users      []User
	channels   []*Channel
	messages   map[string][]*Message // by channel id, in posting order
	seq        int
	failures   map[string][]string // method → queued error codes
	rateLimits map[string]*rateLimit
}

type rateLimit struct {
	retryAfter int // seconds
	remaining  int
}

// New starts a fake and stops it when the test ends.
func New(t testing.TB, cfg Config) *Server {
	t.Helper()
	s := Start(cfg)
	t.Cleanup(s.Close)
	return s
}

// Start starts a fake outside a test (the cluster harness); Close stops it.
func Start(cfg Config) *Server {
	cfg.setDefaults()
	s := &Server{
		Token:      cfg.Token,
		AppToken:   cfg.AppToken,
		cfg:        cfg,
		changed:    make(chan struct{}),
		messages:   map[string][]*Message{},
		failures:   map[string][]string{},
		rateLimits: map[string]*rateLimit{},
	}
	s.users = append(s.users, User{ID: cfg.BotUserID, Name: "firebreak", RealName: "firebreak", IsBot: true})
	s.srv = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	s.URL = s.srv.URL
	s.APIURL = s.srv.URL + "/api/"
	return s
}

// Close stops the fake's HTTP server.
func (s *Server) Close() { s.srv.Close() }

// AddUser seeds a workspace member and returns it with its id.
func (s *Server) AddUser(u User) User {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u.ID == "" {
		u.ID = fmt.Sprintf("U%08X", len(s.users)+1)
	}
	s.users = append(s.users, u)
	return u
}

// AddChannel seeds a public channel with the bot and the given members, and
// returns its id. It does not check the name.
func (s *Server) AddChannel(name string, members ...string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.newChannel(name, false)
	c.Members = append(c.Members, members...)
	return c.ID
}

// FailNext makes the next call of method answer {"ok":false,"error":code}.
// Queued failures are used in order.
func (s *Server) FailNext(method, code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures[method] = append(s.failures[method], code)
}

// RateLimit makes the next times calls of method answer 429 with
// Retry-After: retryAfter seconds.
func (s *Server) RateLimit(method string, retryAfter, times int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rateLimits[method] = &rateLimit{retryAfter: retryAfter, remaining: times}
}

// Calls returns the calls of method so far, oldest first; "" means all calls.
func (s *Server) Calls(method string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.callsLocked(method)
}

func (s *Server) callsLocked(method string) []Call {
	var out []Call
	for _, c := range s.calls {
		if method == "" || c.Method == method {
			c.Params = cloneValues(c.Params)
			out = append(out, c)
		}
	}
	return out
}

// WaitFor waits until at least n calls of method have been made and returns
// them, or returns an error after timeout. It is for code under test that
// calls Slack from its own goroutine.
func (s *Server) WaitFor(method string, n int, timeout time.Duration) ([]Call, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		calls := s.callsLocked(method)
		changed := s.changed
		s.mu.Unlock()
		if len(calls) >= n {
			return calls, nil
		}
		select {
		case <-changed:
		case <-deadline.C:
			return calls, fmt.Errorf("slackfake: %d %s calls after %s, want %d", len(calls), method, timeout, n)
		}
	}
}

// Messages returns the messages of a channel (id) in posting order,
// ephemeral ones included.
func (s *Server) Messages(channel string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, 0, len(s.messages[channel]))
	for _, m := range s.messages[channel] {
		out = append(out, *m)
	}
	return out
}

// LastMessage returns the latest version of the message ts in channel (id),
// or with ts "" the channel's most recently posted message.
func (s *Server) LastMessage(channel, ts string) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	msgs := s.messages[channel]
	if ts == "" {
		if len(msgs) == 0 {
			return Message{}, false
		}
		return *msgs[len(msgs)-1], true
	}
	if m := findMessage(msgs, ts); m != nil {
		return *m, true
	}
	return Message{}, false
}

// Channel returns a channel by id or by name (with or without "#").
func (s *Server) Channel(idOrName string) (Channel, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.findChannel(idOrName)
	if c == nil {
		return Channel{}, false
	}
	out := *c
	out.Members = slices.Clone(c.Members)
	return out, true
}

// DM returns the id of the direct-message conversation with user that
// conversations.open created, "" before it was opened.
func (s *Server) DM(user string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.dmOf(user); c != nil {
		return c.ID
	}
	return ""
}

// dmOf returns the direct-message conversation with user, nil for none.
func (s *Server) dmOf(user string) *Channel {
	for _, c := range s.channels {
		if strings.HasPrefix(c.ID, "D") && slices.Contains(c.Members, user) {
			return c
		}
	}
	return nil
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == socketPath {
		s.serveSocket(w, r)
		return
	}
	method, ok := strings.CutPrefix(r.URL.Path, "/api/")
	if !ok || method == "" {
		http.NotFound(w, r)
		return
	}
	call, err := readCall(r, method)
	if err != nil {
		call.Method = method
		s.finish(w, call, http.StatusOK, nil, "invalid_form_data")
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if rl := s.rateLimits[method]; rl != nil && rl.remaining > 0 {
		rl.remaining--
		w.Header().Set("Retry-After", strconv.Itoa(rl.retryAfter))
		s.finish(w, call, http.StatusTooManyRequests, nil, "ratelimited")
		return
	}
	want := s.cfg.Token
	if method == "apps.connections.open" {
		want = s.cfg.AppToken
	}
	switch {
	case call.Token == "":
		s.finish(w, call, http.StatusOK, nil, "not_authed")
		return
	case call.Token != want:
		s.finish(w, call, http.StatusOK, nil, "invalid_auth")
		return
	}
	if q := s.failures[method]; len(q) > 0 {
		s.failures[method] = q[1:]
		s.finish(w, call, http.StatusOK, nil, q[0])
		return
	}
	h, ok := handlers[method]
	if !ok {
		s.finish(w, call, http.StatusOK, nil, "unknown_method")
		return
	}
	body, code := h(s, call.Params)
	s.finish(w, call, http.StatusOK, body, code)
}

// readCall reads the method's parameters the ways Slack accepts them: a
// form (the token in it or in an Authorization header), a query string, or
// a JSON body with the token in the Authorization header.
func readCall(r *http.Request, method string) (Call, error) {
	call := Call{Method: method, Params: url.Values{}}
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		call.Token = tok
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "application/json" {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			return call, err
		}
		call.JSON = body
		var fields map[string]json.RawMessage
		// An empty body is a call without arguments (apps.connections.open).
		if len(strings.TrimSpace(string(body))) > 0 {
			if err := json.Unmarshal(body, &fields); err != nil {
				return call, err
			}
		}
		for k, raw := range fields {
			var str string
			if json.Unmarshal(raw, &str) == nil {
				call.Params.Set(k, str)
			} else {
				call.Params.Set(k, string(raw))
			}
		}
		for k, v := range r.URL.Query() {
			call.Params[k] = v
		}
	} else {
		if err := r.ParseForm(); err != nil {
			return call, err
		}
		call.Params = cloneValues(r.Form)
	}
	if tok := call.Params.Get("token"); tok != "" && call.JSON == nil && call.Token == "" {
		call.Token = tok
	}
	call.Params.Del("token")
	return call, nil
}

// finish records the call, wakes waiters and writes Slack's envelope:
// {"ok":true,…body} or {"ok":false,"error":code}.
func (s *Server) finish(w http.ResponseWriter, call Call, status int, body map[string]any, code string) {
	call.Status, call.Error, call.At = status, code, time.Now()
	s.calls = append(s.calls, call)
	close(s.changed)
	s.changed = make(chan struct{})

	out := map[string]any{"ok": code == ""}
	if code != "" {
		out["error"] = code
	}
	for k, v := range body {
		out[k] = v
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(out)
}

// handler answers a method with its response fields or an error code.
type handler func(s *Server, p url.Values) (map[string]any, string)

var handlers = map[string]handler{
	"auth.test":              (*Server).authTest,
	"apps.connections.open":  (*Server).connectionsOpen,
	"chat.postMessage":       (*Server).postMessage,
	"chat.update":            (*Server).update,
	"chat.postEphemeral":     (*Server).postEphemeral,
	"conversations.create":   (*Server).create,
	"conversations.history":  (*Server).history,
	"conversations.list":     (*Server).list,
	"conversations.open":     (*Server).open,
	"conversations.invite":   (*Server).invite,
	"conversations.setTopic": (*Server).setTopic,
	"users.info":             (*Server).userInfo,
	"users.lookupByEmail":    (*Server).lookupByEmail,
}

func (s *Server) authTest(url.Values) (map[string]any, string) {
	return map[string]any{
		"url":     "https://" + s.cfg.Team + ".slack.com/",
		"team":    s.cfg.Team,
		"user":    "firebreak",
		"team_id": s.cfg.TeamID,
		"user_id": s.cfg.BotUserID,
		"bot_id":  s.cfg.BotID,
	}, ""
}

// maxTextLen is chat.postMessage's limit on text (msg_too_long).
const maxTextLen = 40000

func (s *Server) postMessage(p url.Values) (map[string]any, string) {
	c := s.findChannel(p.Get("channel"))
	if c == nil {
		return nil, "channel_not_found"
	}
	m := &Message{Channel: c.ID, ThreadTS: p.Get("thread_ts"), Text: p.Get("text"), User: s.cfg.BotUserID}
	if code := setContent(m, p, true); code != "" {
		return nil, code
	}
	if m.ThreadTS != "" && findMessage(s.messages[c.ID], m.ThreadTS) == nil {
		return nil, "thread_not_found"
	}
	if meta := p.Get("metadata"); meta != "" {
		var md struct {
			EventType    string         `json:"event_type"`
			EventPayload map[string]any `json:"event_payload"`
		}
		if json.Unmarshal([]byte(meta), &md) != nil || md.EventType == "" {
			return nil, "invalid_metadata_format"
		}
		m.Metadata = json.RawMessage(meta)
	}
	m.TS = s.nextTS()
	s.messages[c.ID] = append(s.messages[c.ID], m)
	return map[string]any{"channel": c.ID, "ts": m.TS, "message": s.messageJSON(m)}, ""
}

func (s *Server) update(p url.Values) (map[string]any, string) {
	c := s.findChannel(p.Get("channel"))
	if c == nil {
		return nil, "channel_not_found"
	}
	m := findMessage(s.messages[c.ID], p.Get("ts"))
	if m == nil || m.Ephemeral {
		return nil, "message_not_found"
	}
	next := *m
	if code := setContent(&next, p, false); code != "" {
		return nil, code
	}
	next.Updates++
	*m = next
	return map[string]any{"channel": c.ID, "ts": m.TS, "text": m.Text, "message": s.messageJSON(m)}, ""
}

func (s *Server) postEphemeral(p url.Values) (map[string]any, string) {
	c := s.findChannel(p.Get("channel"))
	if c == nil {
		return nil, "channel_not_found"
	}
	user := p.Get("user")
	if s.findUser(user) == nil {
		return nil, "user_not_found"
	}
	if !slices.Contains(c.Members, user) {
		return nil, "user_not_in_channel"
	}
	m := &Message{Channel: c.ID, ThreadTS: p.Get("thread_ts"), Text: p.Get("text"), User: s.cfg.BotUserID, Ephemeral: true, EphemeralTo: user}
	if code := setContent(m, p, true); code != "" {
		return nil, code
	}
	m.TS = s.nextTS()
	s.messages[c.ID] = append(s.messages[c.ID], m)
	return map[string]any{"message_ts": m.TS}, ""
}

// setContent applies text and blocks from p to m. chat.update keeps what a
// call leaves out (an empty blocks array clears them); a new message needs
// text or blocks.
func setContent(m *Message, p url.Values, isNew bool) string {
	if p.Has("text") {
		m.Text = p.Get("text")
	}
	if p.Has("blocks") {
		raw := json.RawMessage(p.Get("blocks"))
		var blocks []map[string]any
		if err := json.Unmarshal(raw, &blocks); err != nil {
			return "invalid_blocks_format"
		}
		for _, b := range blocks {
			if _, ok := b["type"].(string); !ok {
				return "invalid_blocks"
			}
		}
		if len(blocks) > 50 {
			return "invalid_blocks"
		}
		m.Blocks = raw
		if len(blocks) == 0 {
			m.Blocks = nil
		}
	}
	if utf8.RuneCountInString(m.Text) > maxTextLen {
		return "msg_too_long"
	}
	if isNew && m.Text == "" && m.Blocks == nil {
		return "no_text"
	}
	return ""
}

// history answers conversations.history: a conversation (by id, as Slack
// wants; a name is channel_not_found) newest message first, without
// ephemeral ones, limit at most 999 (default 100), with each message's
// metadata when include_all_metadata is set. Paging is not offered:
// has_more says whether messages were left out.
func (s *Server) history(p url.Values) (map[string]any, string) {
	id := p.Get("channel")
	c := s.findChannel(id)
	if c == nil || c.ID != id {
		return nil, "channel_not_found"
	}
	limit := 100
	if v := p.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 999 {
			return nil, "invalid_limit"
		}
		limit = n
	}
	withMeta := p.Get("include_all_metadata") == "1" || p.Get("include_all_metadata") == "true"
	msgs := s.messages[c.ID]
	out := []map[string]any{}
	more := false
	for i := len(msgs) - 1; i >= 0; i-- {
		m := msgs[i]
		if m.Ephemeral {
			continue
		}
		if len(out) == limit {
			more = true
			break
		}
		j := s.messageJSON(m)
		if withMeta && m.Metadata != nil {
			j["metadata"] = m.Metadata
		}
		out = append(out, j)
	}
	return map[string]any{"messages": out, "has_more": more}, ""
}

// list answers conversations.list with every channel (no paging).
func (s *Server) list(url.Values) (map[string]any, string) {
	out := []map[string]any{}
	for _, c := range s.channels {
		if !strings.HasPrefix(c.ID, "D") {
			out = append(out, s.channelJSON(c))
		}
	}
	return map[string]any{"channels": out, "response_metadata": map[string]any{"next_cursor": ""}}, ""
}

// open answers conversations.open for one user: the direct-message
// conversation with the bot, created on first use.
func (s *Server) open(p url.Values) (map[string]any, string) {
	users := strings.Split(p.Get("users"), ",")
	if len(users) != 1 || users[0] == "" {
		return nil, "invalid_arguments"
	}
	if s.findUser(users[0]) == nil {
		return nil, "user_not_found"
	}
	if c := s.dmOf(users[0]); c != nil {
		return map[string]any{"channel": map[string]any{"id": c.ID, "is_im": true, "user": users[0]}}, ""
	}
	c := &Channel{ID: fmt.Sprintf("D%08X", len(s.channels)+1), Created: s.cfg.Now(), Creator: s.cfg.BotUserID,
		Members: []string{s.cfg.BotUserID, users[0]}}
	s.channels = append(s.channels, c)
	return map[string]any{"channel": map[string]any{"id": c.ID, "is_im": true, "user": users[0]}}, ""
}

func (s *Server) messageJSON(m *Message) map[string]any {
	out := map[string]any{"type": "message", "text": m.Text, "user": m.User, "bot_id": s.cfg.BotID, "ts": m.TS}
	if m.Blocks != nil {
		out["blocks"] = m.Blocks
	}
	if m.ThreadTS != "" {
		out["thread_ts"] = m.ThreadTS
	}
	return out
}

// channelName is what conversations.create accepts.
var channelName = regexp.MustCompile(`^[a-z0-9_-]+$`)

func (s *Server) create(p url.Values) (map[string]any, string) {
	name := p.Get("name")
	switch {
	case name == "":
		return nil, "invalid_name_required"
	case utf8.RuneCountInString(name) > 80:
		return nil, "invalid_name_maxlength"
	case !channelName.MatchString(name):
		return nil, "invalid_name_specials"
	case strings.Trim(name, "-_") == "":
		return nil, "invalid_name_punctuation"
	}
	for _, c := range s.channels {
		if c.Name == name {
			return nil, "name_taken"
		}
	}
	c := s.newChannel(name, p.Get("is_private") == "true")
	return map[string]any{"channel": s.channelJSON(c)}, ""
}

func (s *Server) invite(p url.Values) (map[string]any, string) {
	c := s.findChannel(p.Get("channel"))
	if c == nil {
		return nil, "channel_not_found"
	}
	var users []string
	for u := range strings.SplitSeq(p.Get("users"), ",") {
		if u = strings.TrimSpace(u); u != "" {
			users = append(users, u)
		}
	}
	if len(users) == 0 {
		return nil, "no_user"
	}
	if len(users) > 1000 {
		return nil, "too_many_users"
	}
	for _, u := range users {
		switch {
		case u == s.cfg.BotUserID:
			return nil, "cant_invite_self"
		case s.findUser(u) == nil:
			return nil, "user_not_found"
		case slices.Contains(c.Members, u):
			return nil, "already_in_channel"
		}
	}
	c.Members = append(c.Members, users...)
	return map[string]any{"channel": s.channelJSON(c)}, ""
}

func (s *Server) setTopic(p url.Values) (map[string]any, string) {
	c := s.findChannel(p.Get("channel"))
	if c == nil {
		return nil, "channel_not_found"
	}
	topic := p.Get("topic")
	if utf8.RuneCountInString(topic) > 250 {
		return nil, "too_long"
	}
	c.Topic = topic
	return map[string]any{"channel": s.channelJSON(c)}, ""
}

func (s *Server) userInfo(p url.Values) (map[string]any, string) {
	u := s.findUser(p.Get("user"))
	if u == nil {
		return nil, "user_not_found"
	}
	return map[string]any{"user": s.userJSON(u)}, ""
}

func (s *Server) lookupByEmail(p url.Values) (map[string]any, string) {
	email := p.Get("email")
	for i := range s.users {
		if u := &s.users[i]; email != "" && strings.EqualFold(u.Email, email) {
			return map[string]any{"user": s.userJSON(u)}, ""
		}
	}
	return nil, "users_not_found"
}

func (s *Server) userJSON(u *User) map[string]any {
	return map[string]any{
		"id":        u.ID,
		"team_id":   s.cfg.TeamID,
		"name":      u.Name,
		"deleted":   u.Deleted,
		"real_name": u.RealName,
		"tz":        u.TZ,
		"is_bot":    u.IsBot,
		"profile": map[string]any{
			"real_name":    u.RealName,
			"display_name": u.DisplayName,
			"email":        u.Email,
			"team":         s.cfg.TeamID,
		},
	}
}

func (s *Server) channelJSON(c *Channel) map[string]any {
	return map[string]any{
		"id":          c.ID,
		"name":        c.Name,
		"is_channel":  !c.IsPrivate,
		"is_group":    false,
		"is_im":       false,
		"is_private":  c.IsPrivate,
		"is_archived": false,
		"is_member":   slices.Contains(c.Members, s.cfg.BotUserID),
		"created":     c.Created.Unix(),
		"creator":     c.Creator,
		"num_members": len(c.Members),
		"topic":       map[string]any{"value": c.Topic, "creator": "", "last_set": 0},
		"purpose":     map[string]any{"value": "", "creator": "", "last_set": 0},
	}
}

func (s *Server) newChannel(name string, private bool) *Channel {
	c := &Channel{
		ID:        fmt.Sprintf("C%08X", len(s.channels)+1),
		Name:      name,
		IsPrivate: private,
		Created:   s.cfg.Now(),
		Creator:   s.cfg.BotUserID,
		Members:   []string{s.cfg.BotUserID},
	}
	s.channels = append(s.channels, c)
	return c
}

func (s *Server) findChannel(idOrName string) *Channel {
	name := strings.TrimPrefix(idOrName, "#")
	for _, c := range s.channels {
		if c.ID == idOrName || (name != "" && c.Name == name) {
			return c
		}
	}
	return nil
}

func (s *Server) findUser(id string) *User {
	for i := range s.users {
		if s.users[i].ID == id {
			return &s.users[i]
		}
	}
	return nil
}

func findMessage(msgs []*Message, ts string) *Message {
	for _, m := range msgs {
		if m.TS == ts {
			return m
		}
	}
	return nil
}

// nextTS returns a fresh message ts in Slack's "seconds.micros" form; the
// fraction is a counter, so ts values are unique and sort in posting order
// even when the clock stands still.
func (s *Server) nextTS() string {
	s.seq++
	return fmt.Sprintf("%d.%06d", s.cfg.Now().Unix(), s.seq%1000000)
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}
