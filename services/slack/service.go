package slack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/firebreak-dev/firebreak/internal/slackmeta"
)

// Name is the service's name (its database, consumers and logs).
const Name = "slack"

// Durable consumer names.
const (
	ConsumerIncidents = "slack-incidents"
	ConsumerRejected  = "slack-rejected"
)

// API is the part of Slack's Web API the service uses; *slackapi.Client
// implements it.
type API interface {
	PostMessageContext(ctx context.Context, channelID string, options ...slackapi.MsgOption) (string, string, error)
	UpdateMessageContext(ctx context.Context, channelID, timestamp string, options ...slackapi.MsgOption) (string, string, string, error)
	PostEphemeralContext(ctx context.Context, channelID, userID string, options ...slackapi.MsgOption) (string, error)
	CreateConversationContext(ctx context.Context, params slackapi.CreateConversationParams) (*slackapi.Channel, error)
	InviteUsersToConversationContext(ctx context.Context, channelID string, users ...string) (*slackapi.Channel, error)
	SetTopicOfConversationContext(ctx context.Context, channelID, topic string) (*slackapi.Channel, error)
	GetUserInfoContext(ctx context.Context, user string, options ...slackapi.GetUserInfoOption) (*slackapi.User, error)
	// conversations.list and conversations.history, to find an incident
	// message whose post got no answer (slackmeta).
	slackmeta.API
}

var _ API = (*slackapi.Client)(nil)

// Directory answers questions about firebreak's people that the
// escalation service owns: which user has an email address, who is on
// call. Either method may return found=false.
type Directory interface {
	UserByEmail(ctx context.Context, email string) (id string, found bool, err error)
	OnCall(ctx context.Context, schedule string) (user string, found bool, err error)
}

// Config tunes the service.
type Config struct {
	// Channel is the channel (id or #name) of incident messages. Required.
	Channel string
	// ChannelSeverities get a channel of their own (#inc-42-<slug>), e.g.
	// SEV1, SEV2. Empty: none.
	ChannelSeverities []string
	// AutoProvision makes an unknown Slack user a responder on first
	// interaction (their email, or their Slack id, as firebreak id).
	AutoProvision bool
	// BaseURL is firebreak's public URL, for the timeline links.
	BaseURL string
	// AckWait is the bus consumers' ack wait. Default 30 s.
	AckWait time.Duration
	// OnCommit is called after a transaction wrote to the outbox (the
	// relay's Notify).
	OnCommit func()
	// Workers process interactions and slash commands; as many incident
	// events are handled at once. Default 32.
	Workers int
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Service is the Slack app: it keeps each incident's message current,
// turns clicks and slash commands into commands, and tells people when
// firebreak refused one.
type Service struct {
	store  Store
	api    API
	dir    Directory
	log    *slog.Logger
	cfg    Config
	replay *replayCache

	// locks serializes Slack effects per incident in this process, so two
	// events of one incident never post its message twice; owner names
	// this process in the store's flush leases, which do the same across
	// replicas.
	locksMu sync.Mutex
	locks   map[string]*incidentLock
	owner   string

	jobs chan job
	txs  txQueue

	// posting holds the incidents whose first message post this process
	// started and has not recorded: a retry looks for the message first.
	posting sync.Map
}

type incidentLock struct {
	mu   sync.Mutex
	refs int
}

// New returns the service. dir may be nil: then Slack users are linked
// only by /incident link or AutoProvision, and oncall is unavailable.
func New(store Store, api API, dir Directory, logger *slog.Logger, cfg Config) (*Service, error) {
	if store == nil || api == nil {
		return nil, errors.New("slack: store and api are required")
	}
	if cfg.Channel == "" {
		return nil, errors.New("slack: a channel for incident messages is required (FIREBREAK_SLACK_CHANNEL)")
	}
	for i, s := range cfg.ChannelSeverities {
		s = strings.ToUpper(strings.TrimSpace(s))
		if !validSeverity(s) {
			return nil, fmt.Errorf("slack: channel severity %q: must be SEV1..SEV4", s)
		}
		cfg.ChannelSeverities[i] = s
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.OnCommit == nil {
		cfg.OnCommit = func() {}
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 32
	}
	return &Service{
		store: store, api: api, dir: dir, log: logger, cfg: cfg,
		replay: newReplayCache(4096),
		locks:  map[string]*incidentLock{},
		owner:  newOwnerID(),
		jobs:   make(chan job, 1024),
	}, nil
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

func validSeverity(s string) bool {
	return slices.Contains([]string{"SEV1", "SEV2", "SEV3", "SEV4"}, s)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// lock serializes work on one incident; call the returned func to unlock.
func (s *Service) lock(id string) func() {
	s.locksMu.Lock()
	l := s.locks[id]
	if l == nil {
		l = &incidentLock{}
		s.locks[id] = l
	}
	l.refs++
	s.locksMu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		s.locksMu.Lock()
		if l.refs--; l.refs == 0 {
			delete(s.locks, id)
		}
		s.locksMu.Unlock()
	}
}

// view is what the message shows of inc.
func view(inc Incident) IncidentView {
	return IncidentView{
		ID: inc.ID, Key: inc.Key(), Title: inc.Title, Severity: inc.Severity, Service: inc.Service,
		Status: inc.Status, AlertCount: inc.AlertCount, Assignee: inc.Assignee,
		AcknowledgedBy: inc.AcknowledgedBy, ResolvedBy: inc.ResolvedBy, UpdatedAt: inc.UpdatedAt,
	}
}

func (s *Service) msgOptions(inc Incident) []slackapi.MsgOption {
	msg := IncidentMessage(view(inc), s.cfg.BaseURL)
	return []slackapi.MsgOption{slackapi.MsgOptionText(msg.Text, false), slackapi.MsgOptionBlocks(msg.Blocks.BlockSet...)}
}

// Run processes interactions and slash commands until ctx ends, and first
// retries the Slack effects a previous run left pending.
func (s *Service) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for range s.cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case j := <-s.jobs:
					j(ctx)
				}
			}
		}()
	}
	s.sweep(ctx)
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return nil
		case <-t.C:
			s.sweep(ctx)
		}
	}
}

// sweep flushes the effects left pending by a crash or a Slack outage
// whose events will not be redelivered (they were handled, then Slack
// failed past MaxDeliver).
func (s *Service) sweep(ctx context.Context) {
	ids, err := s.store.EffectIncidents(ctx, 100)
	if err != nil {
		s.log.Warn("slack: list pending effects", "err", err)
		return
	}
	for _, id := range ids {
		if err := s.Flush(ctx, id); err != nil {
			s.log.Warn("slack: pending effects", "incident", id, "err", err)
		}
	}
}

// Flush performs an incident's pending Slack effects in order, deleting
// them once Slack accepted them. A crash between Slack's answer and the
// delete repeats the call: harmless for updates and topics; for a first
// post or a thread post it may show the message twice (see doc.go).
func (s *Service) Flush(ctx context.Context, incidentID string) error {
	unlock := s.lock(incidentID)
	defer unlock()
	return s.flushLocked(ctx, incidentID, false)
}

// flushLease is how long a replica may perform an incident's effects
// before another may take over (a crashed holder's lease runs out).
const flushLease = 30 * time.Second

// flushLocked is Flush for a caller holding the incident's lock; claimed
// says the caller already holds the incident's flush lease (taken in the
// transaction that added the effects). Across replicas the incident's
// flush lease decides: without it, the replica leaves the effects it added
// to the holder, which looks for new effects again after giving the lease
// up. Effects of a holder that died wait for the lease to run out and the
// next sweep.
func (s *Service) flushLocked(ctx context.Context, incidentID string, claimed bool) error {
	for {
		if !claimed {
			// Nothing to do (the first time round), or nothing added by
			// another replica while this one held the lease (after that).
			effects, err := s.store.Effects(ctx, incidentID)
			if err != nil || len(effects) == 0 {
				return err
			}
			ok, err := s.store.FlushClaim(ctx, incidentID, s.owner, s.now().Add(flushLease))
			if err != nil || !ok {
				return err
			}
		}
		claimed = false
		// Not cut short by the caller's deadline (a consumer's AckWait):
		// a Slack call abandoned after Slack acted on it, or a post whose
		// ts is not recorded, would be repeated on the retry. The lease
		// outlives this bound, so no other replica steps in meanwhile.
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), flushLease-5*time.Second)
		done, err := s.performEffects(pctx, incidentID)
		cancel()
		// What Slack accepted is deleted, and the lease given up, in one
		// write.
		dctx := context.WithoutCancel(ctx)
		if rerr := s.inSharedTx(dctx, false, func(tx Tx) error {
			return tx.FlushDone(dctx, incidentID, s.owner, done)
		}); err == nil {
			err = rerr
		}
		if err != nil {
			return err
		}
	}
}

// performEffects performs an incident's pending effects in order and
// returns those Slack accepted, to be deleted. Effects that would show
// twice if repeated (thread posts, the channel) are deleted right away
// when more effects follow them, so a crash repeats no more of them than
// deleting each at once would; message syncs are idempotent and wait for
// the caller's one delete.
func (s *Service) performEffects(ctx context.Context, incidentID string) ([]int64, error) {
	effects, err := s.store.Effects(ctx, incidentID)
	if err != nil || len(effects) == 0 {
		return nil, err
	}
	inc, err := s.store.IncidentGet(ctx, incidentID)
	if err != nil {
		return nil, err
	}
	// The incident was read after its effects, so one message sync shows
	// every change they stand for; later message effects need no call.
	var done []int64
	synced := false
	for i, e := range effects {
		if e.Kind != EffectMessage || !synced {
			if err := s.perform(ctx, &inc, e); err != nil {
				return done, fmt.Errorf("%s %s: %w", e.Kind, inc.Key(), err)
			}
		}
		synced = synced || e.Kind == EffectMessage
		done = append(done, e.Seq)
		if e.Kind != EffectMessage && i < len(effects)-1 {
			for _, seq := range done {
				if err := s.store.EffectDelete(ctx, seq); err != nil {
					return nil, err
				}
			}
			done = nil
		}
	}
	return done, nil
}

// newOwnerID names this process in flush leases.
func newOwnerID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	host, _ := os.Hostname()
	return host + "-" + strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(b)
}

func (s *Service) perform(ctx context.Context, inc *Incident, e Effect) error {
	switch e.Kind {
	case EffectMessage:
		return s.syncMessage(ctx, inc, e.CreatedAt)
	case EffectThread:
		if inc.MessageTS == "" {
			if err := s.syncMessage(ctx, inc, e.CreatedAt); err != nil {
				return err
			}
		}
		for _, ch := range [][2]string{{inc.Channel, inc.MessageTS}, {inc.IncChannel, inc.IncMessageTS}} {
			if ch[1] == "" {
				continue
			}
			if _, _, err := s.api.PostMessageContext(ctx, ch[0], slackapi.MsgOptionText(e.Text, false), slackapi.MsgOptionTS(ch[1])); err != nil {
				return err
			}
		}
		return nil
	case EffectChannel:
		return s.createChannel(ctx, inc, e.Text)
	}
	return fmt.Errorf("unknown effect kind %q", e.Kind)
}

// IncidentMetadataType is the event_type of the metadata the incident
// message carries; its event_payload holds the incident_id.
const IncidentMetadataType = "firebreak_incident"

// postUncertainAfter is how long an incident message may wait to be
// posted before a replica that takes it over looks for it in Slack first:
// a replica that died holding the flush lease may have posted it without
// recording it, and its lease runs out only after flushLease.
const postUncertainAfter = flushLease / 2

// syncMessage posts the incident message if it is not in Slack yet and
// updates it (and the incident channel's copy and topic) otherwise.
// pendingSince is when the oldest effect being performed was added. Slack
// has no idempotency key: a first post that this process started without
// recording it, or one pending for longer than postUncertainAfter, may be
// in Slack already, so the channel's latest messages are searched for the
// incident's metadata first (if they cannot be read, it is posted).
func (s *Service) syncMessage(ctx context.Context, inc *Incident, pendingSince time.Time) error {
	if inc.MessageTS == "" {
		if _, again := s.posting.Load(inc.ID); again || s.now().Sub(pendingSince) > postUncertainAfter {
			ch, ts, found, err := slackmeta.Find(ctx, s.api, s.cfg.Channel, IncidentMetadataType, "incident_id", inc.ID)
			if err == nil && found {
				s.log.Info("incident message found in Slack; not posting it again", "incident", inc.Key(), "ts", ts)
				if err := s.store.IncidentSetMessage(ctx, inc.ID, ch, ts); err != nil {
					return err
				}
				inc.Channel, inc.MessageTS = ch, ts
				s.posting.Delete(inc.ID)
			}
		}
	}
	if inc.MessageTS == "" {
		s.posting.Store(inc.ID, struct{}{})
		opts := append(s.msgOptions(*inc), slackapi.MsgOptionMetadata(slackmeta.Metadata(IncidentMetadataType, "incident_id", inc.ID)))
		ch, ts, err := s.api.PostMessageContext(ctx, s.cfg.Channel, opts...)
		if err != nil {
			return err
		}
		if err := s.store.IncidentSetMessage(ctx, inc.ID, ch, ts); err != nil {
			return err
		}
		s.posting.Delete(inc.ID)
		inc.Channel, inc.MessageTS = ch, ts
	} else if _, _, _, err := s.api.UpdateMessageContext(ctx, inc.Channel, inc.MessageTS, s.msgOptions(*inc)...); err != nil {
		return err
	}
	if inc.IncChannel == "" {
		return nil
	}
	if inc.IncMessageTS != "" {
		if _, _, _, err := s.api.UpdateMessageContext(ctx, inc.IncChannel, inc.IncMessageTS, s.msgOptions(*inc)...); err != nil {
			return err
		}
	}
	if topic := Topic(*inc); topic != inc.Topic {
		if _, err := s.api.SetTopicOfConversationContext(ctx, inc.IncChannel, topic); err != nil {
			return err
		}
		if err := s.store.IncidentSetTopic(ctx, inc.ID, topic); err != nil {
			return err
		}
		inc.Topic = topic
	}
	return nil
}

// Topic is an incident channel's topic: state, severity and assignee.
func Topic(inc Incident) string {
	return fmt.Sprintf("%s %s | %s | %s | assignee: %s", inc.Key(), inc.Severity, statusLabel(inc.Status), truncate(inc.Title, 120), or(inc.Assignee, "unassigned"))
}

var slugRe = regexp.MustCompile(`[^a-z0-9]+`)

// ChannelName is the name of an incident's channel: inc-<number>-<slug of
// the title>, at most 80 characters, as conversations.create accepts.
func ChannelName(number int64, title string) string {
	slug := strings.Trim(slugRe.ReplaceAllString(strings.ToLower(title), "-"), "-")
	name := "inc-" + itoa(number)
	if slug != "" {
		name += "-" + slug
	}
	if len(name) > 80 {
		name = strings.TrimRight(name[:80], "-")
	}
	return name
}

// createChannel creates the incident's channel (taking an existing one
// of that name on a retry), invites the responders (invite: Slack user ids
// separated by commas) and posts the incident message there.
func (s *Service) createChannel(ctx context.Context, inc *Incident, invite string) error {
	if inc.IncChannel == "" {
		name := ChannelName(inc.Number, inc.Title)
		ch, err := s.api.CreateConversationContext(ctx, slackapi.CreateConversationParams{ChannelName: name})
		if err != nil {
			return fmt.Errorf("create #%s: %w", name, err)
		}
		inc.IncChannel = ch.ID
		if err := s.store.IncidentSetChannel(ctx, inc.ID, ch.ID, ""); err != nil {
			return err
		}
	}
	if users := splitUsers(invite); len(users) > 0 {
		if _, err := s.api.InviteUsersToConversationContext(ctx, inc.IncChannel, users...); err != nil && !isSlackError(err, "already_in_channel") {
			return fmt.Errorf("invite responders: %w", err)
		}
	}
	if inc.IncMessageTS == "" {
		_, ts, err := s.api.PostMessageContext(ctx, inc.IncChannel, s.msgOptions(*inc)...)
		if err != nil {
			return err
		}
		inc.IncMessageTS = ts
		if err := s.store.IncidentSetChannel(ctx, inc.ID, inc.IncChannel, ts); err != nil {
			return err
		}
	}
	return s.syncMessage(ctx, inc, s.now())
}

func splitUsers(s string) []string {
	var out []string
	for u := range strings.SplitSeq(s, ",") {
		if u = strings.TrimSpace(u); u != "" && !slices.Contains(out, u) {
			out = append(out, u)
		}
	}
	return out
}

// isSlackError reports whether err is Slack's {"ok":false,"error":code}.
func isSlackError(err error, code string) bool {
	var se slackapi.SlackErrorResponse
	if errors.As(err, &se) {
		return se.Err == code
	}
	return err != nil && err.Error() == code
}
