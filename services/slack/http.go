package slack

import (
	"container/list"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/fault"
	"github.com/firebreak-dev/firebreak/internal/httpapi"
)

// MaxRequestBody caps what Slack may send to the endpoints.
const MaxRequestBody = 64 * 1024

// ErrSignatureReplayed is a signed request seen before.
var ErrSignatureReplayed = fault.New(fault.Unauthorized, "slack_signature_replayed", "slack request already received")

// Routes registers POST /slack/interactions and POST /slack/commands. They
// take no bearer token: Slack signs them with the signing secret.
func (s *Service) Routes(srv *httpapi.Server, secret []byte, logger *slog.Logger) {
	h := &handler{svc: s, secret: secret, log: logger}
	srv.HandlePublic("POST /slack/interactions", http.HandlerFunc(h.interactions))
	srv.HandlePublic("POST /slack/commands", http.HandlerFunc(h.commands))
}

type handler struct {
	svc    *Service
	secret []byte
	log    *slog.Logger
}

// verified reads and authenticates a request: a valid v0 signature within
// the window, never seen before.
func (h *handler) verified(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := httpapi.ReadBody(w, r, MaxRequestBody)
	if err == nil {
		err = Verify(h.secret, r.Header, body, h.svc.now())
	}
	if err == nil && !h.svc.replay.add(r.Header.Get(HeaderSignature), h.svc.now()) {
		err = ErrSignatureReplayed
	}
	if err != nil {
		h.log.Warn("slack: request refused", "path", r.URL.Path, "code", fault.CodeOf(err))
		if fault.KindOf(err) == fault.Unauthorized {
			httpapi.Deny(r, httpapi.Denial{Reason: signatureDenial(err), Status: http.StatusUnauthorized})
		}
		httpapi.WriteError(w, r, h.log, err)
		return nil, false
	}
	return body, true
}

// interactions answers Slack at once and handles the click in the
// background (Slack gives up after 3 s).
func (h *handler) interactions(w http.ResponseWriter, r *http.Request) {
	body, ok := h.verified(w, r)
	if !ok {
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil || form.Get("payload") == "" {
		httpapi.WriteError(w, r, h.log, fault.Field("payload", "missing or not a form"))
		return
	}
	var cb slackapi.InteractionCallback
	if err := json.Unmarshal([]byte(form.Get("payload")), &cb); err != nil {
		httpapi.WriteError(w, r, h.log, fault.Field("payload", "not an interaction payload: %v", err))
		return
	}
	w.WriteHeader(http.StatusOK)
	if cb.Type != slackapi.InteractionTypeBlockActions {
		return
	}
	for _, a := range cb.ActionCallback.BlockActions {
		h.svc.enqueue(func(ctx context.Context) { h.svc.HandleAction(ctx, cb, *a) })
	}
}

// commands answers /incident: parse errors, help and read-only answers
// right away; commands that change something are accepted at once and
// issued in the background.
func (h *handler) commands(w http.ResponseWriter, r *http.Request) {
	body, ok := h.verified(w, r)
	if !ok {
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		httpapi.WriteError(w, r, h.log, fault.Field("body", "not a form"))
		return
	}
	req := Request{UserID: form.Get("user_id"), UserName: form.Get("user_name"), ChannelID: form.Get("channel_id")}
	if req.UserID == "" || req.ChannelID == "" {
		httpapi.WriteError(w, r, h.log, fault.Field("user_id", "user_id and channel_id are required"))
		return
	}
	reply := h.svc.HandleCommand(r.Context(), req, form.Get("text"))
	httpapi.WriteJSON(w, http.StatusOK, map[string]string{"response_type": reply.ResponseType(), "text": reply.Text})
}

// Request is who issued a Slack interaction, and where.
type Request struct {
	UserID    string
	UserName  string
	ChannelID string
}

// Reply is the answer to a slash command.
type Reply struct {
	Text string
	// InChannel shows the answer to the whole channel (ephemeral otherwise).
	InChannel bool
}

// ResponseType is Slack's response_type of the reply.
func (r Reply) ResponseType() string {
	if r.InChannel {
		return "in_channel"
	}
	return "ephemeral"
}

type job func(ctx context.Context)

// enqueue hands work to the workers. When they are saturated the caller
// waits (Slack still got its 200 from the handler's own goroutine only
// after this returns, so a full queue slows answers rather than dropping
// clicks).
func (s *Service) enqueue(j job) { s.jobs <- j }

// tell shows text to a Slack user only, in channel.
func (s *Service) tell(ctx context.Context, req Request, text string) {
	if _, err := s.api.PostEphemeralContext(ctx, req.ChannelID, req.UserID, slackapi.MsgOptionText(text, false)); err != nil {
		s.log.Warn("slack: ephemeral message", "user", req.UserID, "channel", req.ChannelID, "err", err)
	}
}

// buttonCommands maps the message's buttons to commands.
var buttonCommands = map[string]string{
	ActionAcknowledge: events.CmdIncidentAcknowledge,
	ActionEscalate:    events.CmdIncidentEscalate,
	ActionContain:     events.CmdIncidentContain,
	ActionMitigate:    events.CmdIncidentMitigate,
	ActionResolve:     events.CmdIncidentResolve,
}

// HandleAction turns a button click into a command issued as the clicking
// user; whatever goes wrong is told to them.
func (s *Service) HandleAction(ctx context.Context, cb slackapi.InteractionCallback, a slackapi.BlockAction) {
	typ, ok := buttonCommands[a.ActionID]
	if !ok {
		return // the timeline link, or a button of an older message version
	}
	req := Request{UserID: cb.User.ID, UserName: cb.User.Name, ChannelID: cb.Channel.ID}
	if req.ChannelID == "" {
		req.ChannelID = cb.Container.ChannelID
	}
	actor, err := s.identify(ctx, req.UserID)
	if err != nil {
		s.tell(ctx, req, s.identityProblem(err))
		return
	}
	c := events.IncidentCommand{Incident: a.Value}
	switch typ {
	case events.CmdIncidentContain:
		c.Action = "marked contained in Slack"
	case events.CmdIncidentMitigate:
		c.Action = "marked mitigated in Slack"
	}
	if err := s.issue(ctx, req, actor, typ, a.Value, c); err != nil {
		s.log.Error("slack: issue command", "type", typ, "err", err)
		s.tell(ctx, req, ":warning: firebreak could not take that click right now; please try again.")
	}
}

// issue records a command issued for a Slack user and writes it to the
// outbox, in one transaction (shared with whatever else is written at the
// same time, see inSharedTx).
func (s *Service) issue(ctx context.Context, req Request, actor events.Actor, typ, incidentID string, data any) error {
	env, err := events.New(typ, Name, incidentID, actor, data, events.At(s.now()))
	if err != nil {
		return err
	}
	c := IssuedCommand{CommandID: env.ID, SlackUserID: req.UserID, Channel: req.ChannelID, IncidentID: incidentID, CreatedAt: s.now()}
	return s.inSharedTx(ctx, true, func(tx Tx) error {
		if err := tx.CommandAdd(ctx, c); err != nil {
			return err
		}
		return tx.Emit(ctx, env)
	})
}

// Identity errors.
var (
	errUnknownUser = errors.New("no firebreak user has this Slack user's email")
	errNoEmail     = errors.New("this Slack user's profile has no email")
)

type identityError struct {
	err   error
	email string
}

func (e *identityError) Error() string { return e.err.Error() }
func (e *identityError) Unwrap() error { return e.err }

// identify returns the firebreak actor of a Slack user: the linked user,
// else the firebreak user with the email of their Slack profile (then
// linked), else with AutoProvision a new responder.
func (s *Service) identify(ctx context.Context, slackUserID string) (events.Actor, error) {
	actor := func(u UserLink) events.Actor {
		return events.Actor{Kind: events.ActorUser, ID: u.FirebreakID, Name: u.Name, Channel: events.ChannelSlack}
	}
	u, err := s.store.UserGet(ctx, slackUserID)
	if err == nil {
		return actor(u), nil
	}
	if !IsNotFound(err) {
		return events.Actor{}, err
	}
	u, err = s.link(ctx, slackUserID)
	if err != nil {
		return events.Actor{}, err
	}
	return actor(u), nil
}

// link reads a Slack user's profile and links them by email (or
// provisions them).
func (s *Service) link(ctx context.Context, slackUserID string) (UserLink, error) {
	info, err := s.api.GetUserInfoContext(ctx, slackUserID)
	if err != nil {
		return UserLink{}, fmt.Errorf("users.info %s: %w", slackUserID, err)
	}
	email := strings.ToLower(strings.TrimSpace(info.Profile.Email))
	name := info.Profile.DisplayName
	if name == "" {
		name = info.RealName
	}
	if name == "" {
		name = info.Name
	}
	u := UserLink{SlackUserID: slackUserID, Email: email, Name: name, LinkedAt: s.now()}
	if email != "" && s.dir != nil {
		id, found, err := s.dir.UserByEmail(ctx, email)
		if err != nil {
			return UserLink{}, fmt.Errorf("find firebreak user by email: %w", err)
		}
		if found {
			u.FirebreakID = id
		}
	}
	if u.FirebreakID == "" {
		switch {
		case !s.cfg.AutoProvision && email == "":
			return UserLink{}, &identityError{err: errNoEmail}
		case !s.cfg.AutoProvision:
			return UserLink{}, &identityError{err: errUnknownUser, email: email}
		case email != "":
			u.FirebreakID, u.Provisioned = email, true
		default:
			u.FirebreakID, u.Provisioned = "slack:"+slackUserID, true
		}
		s.log.Info("slack: provisioned a responder", "slack_user", slackUserID, "firebreak_user", u.FirebreakID)
	}
	if err := s.store.UserSave(ctx, u); err != nil {
		return UserLink{}, err
	}
	return u, nil
}

// identityProblem explains to a Slack user why firebreak cannot act for
// them, and what to do.
func (s *Service) identityProblem(err error) string {
	var ie *identityError
	switch {
	case errors.As(err, &ie) && errors.Is(err, errNoEmail):
		return ":lock: firebreak cannot tell who you are: your Slack profile shows no email. Ask a firebreak admin to add you, then run `/incident link`."
	case errors.As(err, &ie):
		return fmt.Sprintf(":lock: No firebreak user has the email %s, so firebreak cannot act for you. Ask a firebreak admin to add a user with that email (firebreak apply), then run `/incident link`.", ie.email)
	}
	s.log.Error("slack: identify user", "err", err)
	return ":warning: firebreak could not look you up in Slack right now; please try again."
}

// replayCache remembers the signatures of accepted requests for twice the
// signature window, so a captured request cannot be replayed. It holds at
// most max entries; when full, the oldest is forgotten (a replay of it
// would still need to be inside the window and is answered idempotently
// downstream).
type replayCache struct {
	mu    sync.Mutex
	max   int
	order *list.List // of replayEntry, oldest first
	seen  map[string]*list.Element
}

type replayEntry struct {
	sig string
	at  time.Time
}

func newReplayCache(n int) *replayCache {
	return &replayCache{max: n, order: list.New(), seen: map[string]*list.Element{}}
}

// add records sig and reports whether it was new.
func (c *replayCache) add(sig string, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for e := c.order.Front(); e != nil; e = c.order.Front() {
		if now.Sub(e.Value.(replayEntry).at) <= 2*MaxSkew && c.order.Len() < c.max {
			break
		}
		delete(c.seen, e.Value.(replayEntry).sig)
		c.order.Remove(e)
	}
	if _, ok := c.seen[sig]; ok {
		return false
	}
	c.seen[sig] = c.order.PushBack(replayEntry{sig: sig, at: now})
	return true
}
