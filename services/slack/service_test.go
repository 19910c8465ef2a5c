package slack_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/db/dbtest"
	outboxsqlite "github.com/firebreak-dev/firebreak/internal/outbox/sqlite"
	"github.com/firebreak-dev/firebreak/internal/slackfake"
	"github.com/firebreak-dev/firebreak/services/slack"
	"github.com/firebreak-dev/firebreak/services/slack/store/sqlite"

	slackapi "github.com/slack-go/slack"
)

type directory struct {
	emails map[string]string
	oncall map[string]string
}

func (d directory) UserByEmail(_ context.Context, email string) (string, bool, error) {
	id, ok := d.emails[email]
	return id, ok, nil
}

func (d directory) OnCall(_ context.Context, schedule string) (string, bool, error) {
	u, ok := d.oncall[schedule]
	return u, ok, nil
}

type harness struct {
	svc   *slack.Service
	store slack.Store
	fake  *slackfake.Server
	db    *sql.DB
	ch    string
	alice slackfake.User
	bob   slackfake.User
}

func newHarness(t *testing.T, cfg slack.Config) *harness {
	t.Helper()
	h := &harness{fake: slackfake.New(t, slackfake.Config{}), db: dbtest.SQLite(t, "outbox", "slack")}
	h.alice = h.fake.AddUser(slackfake.User{Name: "alice", DisplayName: "alice", Email: "alice@example.com"})
	h.bob = h.fake.AddUser(slackfake.User{Name: "bob", Email: "bob@example.com"})
	h.ch = h.fake.AddChannel("incidents", h.alice.ID, h.bob.ID)
	h.store = sqlite.New(h.db, nil)
	if cfg.Channel == "" {
		cfg.Channel = "incidents"
	}
	cfg.BaseURL = "https://firebreak.example.com"
	dir := directory{emails: map[string]string{"alice@example.com": "alice"}, oncall: map[string]string{"web": "alice"}}
	svc, err := slack.New(h.store, slackapi.New(h.fake.Token, slackapi.OptionAPIURL(h.fake.APIURL)), dir, nil, cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.svc = svc
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = svc.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return h
}

const incID = "0195f3a2-7c4e-7b3a-9d2e-6f1a2b3c4d5e"

var t0 = time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)

func triggered(sev string) events.Envelope {
	return events.MustNew(events.TypeIncidentTriggered, "incident", incID, events.System("incident"), events.IncidentTriggered{
		IncidentRef: events.IncidentRef{IncidentID: incID, Number: 42, Version: 1}, Service: "checkout", DedupKey: "k",
		Title: "Checkout: 5xx > 5%", Severity: sev}, events.At(t0))
}

func transition(typ, from, to string, version int64, actor string) events.Envelope {
	return events.MustNew(typ, "incident", incID, events.Actor{Kind: events.ActorUser, ID: actor, Channel: events.ChannelSlack},
		events.IncidentTransitioned{IncidentRef: events.IncidentRef{IncidentID: incID, Number: 42, Version: version}, From: from, To: to},
		events.At(t0.Add(time.Duration(version)*time.Minute)))
}

func (h *harness) handle(t *testing.T, env events.Envelope) {
	t.Helper()
	if err := h.svc.HandleIncidentEvent(context.Background(), env); err != nil {
		t.Fatalf("%s: %v", env.Type, err)
	}
}

func (h *harness) message(t *testing.T) slackfake.Message {
	t.Helper()
	inc, err := h.store.IncidentGet(context.Background(), incID)
	if err != nil || inc.MessageTS == "" {
		t.Fatalf("no message recorded: %+v %v", inc, err)
	}
	m, ok := h.fake.LastMessage(h.ch, inc.MessageTS)
	if !ok {
		t.Fatalf("message %s not in Slack", inc.MessageTS)
	}
	return m
}

func TestRedeliveryPostsOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t, slack.Config{})
	trig, ack := triggered("SEV2"), transition(events.TypeIncidentAcknowledged, "triggered", "acknowledged", 2, "alice")
	for range 3 {
		h.handle(t, trig)
		h.handle(t, ack)
	}
	if n := len(h.fake.Calls("chat.postMessage")); n != 2 {
		t.Errorf("%d chat.postMessage calls, want 2 (the message and one thread post)", n)
	}
	if m := h.message(t); !strings.Contains(m.Text, "acknowledged") || m.Updates != 1 {
		t.Errorf("message %q with %d updates, want acknowledged after 1 update", m.Text, m.Updates)
	}
}

func TestOutOfOrderEventsNeverGoBackwards(t *testing.T) {
	t.Parallel()
	h := newHarness(t, slack.Config{})
	h.handle(t, transition(events.TypeIncidentAcknowledged, "triggered", "acknowledged", 2, "alice"))
	h.handle(t, triggered("SEV2"))
	m := h.message(t)
	if !strings.Contains(m.Text, "INC-42 [SEV2] Checkout: 5xx > 5% (acknowledged)") {
		t.Errorf("message %q, want the title from the trigger and the state from the later acknowledgement", m.Text)
	}
	if !strings.Contains(string(m.Blocks), "alice via slack") {
		t.Errorf("acknowledger missing: %s", m.Blocks)
	}
}

func TestSlackFailureIsRetried(t *testing.T) {
	t.Parallel()
	h := newHarness(t, slack.Config{})
	h.fake.FailNext("chat.postMessage", "internal_error")
	if err := h.svc.HandleIncidentEvent(context.Background(), triggered("SEV3")); err == nil {
		t.Fatal("a Slack failure was not reported (the event would be acknowledged)")
	}
	// The redelivery finds the event applied and performs what is pending.
	h.handle(t, triggered("SEV3"))
	if m := h.message(t); !strings.Contains(m.Text, "triggered") {
		t.Errorf("message %q", m.Text)
	}
	ok := 0
	for _, c := range h.fake.Calls("chat.postMessage") {
		if c.Error == "" {
			ok++
		}
	}
	if ok != 1 {
		t.Errorf("%d messages posted, want 1", ok)
	}
	// Nothing is left pending.
	if effects, _ := h.store.Effects(context.Background(), incID); len(effects) != 0 {
		t.Errorf("pending effects %+v", effects)
	}
}

func TestIncidentChannel(t *testing.T) {
	t.Parallel()
	h := newHarness(t, slack.Config{ChannelSeverities: []string{"SEV1", "sev2"}})
	if err := h.store.UserSave(context.Background(), slack.UserLink{SlackUserID: h.alice.ID, FirebreakID: "alice", LinkedAt: t0}); err != nil {
		t.Fatal(err)
	}
	h.handle(t, triggered("SEV1"))
	ch, ok := h.fake.Channel("inc-42-checkout-5xx-5")
	if !ok {
		t.Fatalf("no incident channel; calls: %+v", h.fake.Calls("conversations.create"))
	}
	if !strings.Contains(ch.Topic, "INC-42 SEV1 | Triggered") {
		t.Errorf("topic %q", ch.Topic)
	}
	msgs := h.fake.Messages(ch.ID)
	if len(msgs) != 1 || !strings.Contains(msgs[0].Text, "INC-42") {
		t.Fatalf("incident channel messages %+v", msgs)
	}
	h.handle(t, transition(events.TypeIncidentAcknowledged, "triggered", "acknowledged", 2, "alice"))
	ch, _ = h.fake.Channel(ch.ID)
	if !strings.Contains(ch.Topic, "Acknowledged") {
		t.Errorf("topic not kept current: %q", ch.Topic)
	}
	if m, _ := h.fake.LastMessage(ch.ID, msgs[0].TS); !strings.Contains(m.Text, "acknowledged") {
		t.Errorf("incident channel message not updated: %q", m.Text)
	}
	// A slash command in the incident channel implies the incident.
	r := h.svc.HandleCommand(context.Background(), slack.Request{UserID: h.alice.ID, ChannelID: ch.ID}, "status")
	if !strings.Contains(r.Text, "INC-42") || !strings.Contains(r.Text, "Acknowledged") {
		t.Errorf("status in the incident channel: %q", r.Text)
	}
	if n := len(h.fake.Calls("conversations.create")); n != 1 {
		t.Errorf("%d channels created, want 1", n)
	}
}

// commands returns the commands in the outbox.
func (h *harness) commands(t *testing.T) []events.Envelope {
	t.Helper()
	recs, err := outboxsqlite.New(h.db).Pending(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	var out []events.Envelope
	for _, r := range recs {
		env, err := events.Decode(r.Payload)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, env)
	}
	return out
}

func TestSlashCommands(t *testing.T) {
	t.Parallel()
	h := newHarness(t, slack.Config{})
	h.handle(t, triggered("SEV2"))
	type want struct {
		reply   string // part of the immediate reply
		command string // type of the command issued ("" for none)
		check   func(t *testing.T, data map[string]any)
	}
	tests := []struct {
		text string
		want want
	}{
		{"help", want{reply: "/incident declare"}},
		{"status INC-42", want{reply: "INC-42: Checkout"}},
		{"status", want{reply: "not an incident channel"}},
		{"status INC-7", want{reply: "knows no INC-7"}},
		{"timeline INC-42", want{reply: "https://firebreak.example.com/api/v1/incidents/INC-42/timeline"}},
		{"oncall web", want{reply: "On call on web"}},
		{"oncall nowhere", want{reply: "Nobody is on call"}},
		{"bogus", want{reply: "unknown command"}},
		{"ack INC-42 looking", want{reply: "On it", command: events.CmdIncidentAcknowledge, check: func(t *testing.T, d map[string]any) {
			if d["note"] != "looking" || d["incident"] != incID {
				t.Errorf("data %v", d)
			}
		}}},
		{"contain INC-42 blocked the bot", want{reply: "On it", command: events.CmdIncidentContain, check: func(t *testing.T, d map[string]any) {
			if d["action"] != "blocked the bot" {
				t.Errorf("data %v", d)
			}
		}}},
		{"sev INC-42 1", want{reply: "On it", command: events.CmdIncidentSeverity, check: func(t *testing.T, d map[string]any) {
			if d["severity"] != "SEV1" {
				t.Errorf("data %v", d)
			}
		}}},
		{"assign INC-42 <@" + h.alice.ID + ">", want{reply: "On it", command: events.CmdIncidentAssign, check: func(t *testing.T, d map[string]any) {
			if d["user"] != "alice" {
				t.Errorf("mention not mapped to the firebreak user: %v", d)
			}
		}}},
		{"page INC-42 web", want{reply: "On it", command: events.CmdIncidentResponder, check: func(t *testing.T, d map[string]any) {
			if d["user"] != "alice" {
				t.Errorf("schedule not resolved to who is on call: %v", d)
			}
		}}},
		{"declare payments are slow sev2 service:payments", want{reply: "Declaring", command: events.CmdIncidentDeclare, check: func(t *testing.T, d map[string]any) {
			if d["title"] != "payments are slow" || d["severity"] != "SEV2" || d["service"] != "payments" {
				t.Errorf("data %v", d)
			}
		}}},
	}
	// Run in order: each command adds to the one outbox.
	for _, tt := range tests {
		before := len(h.commands(t))
		r := h.svc.HandleCommand(context.Background(), slack.Request{UserID: h.alice.ID, ChannelID: h.ch}, tt.text)
		if !strings.Contains(r.Text, tt.want.reply) || r.InChannel {
			t.Errorf("%q: reply %q (in channel %v), want ephemeral containing %q", tt.text, r.Text, r.InChannel, tt.want.reply)
		}
		if tt.want.command == "" {
			continue
		}
		var cmds []events.Envelope
		deadline := time.Now().Add(10 * time.Second)
		for cmds = h.commands(t); len(cmds) == before && time.Now().Before(deadline); cmds = h.commands(t) {
			time.Sleep(5 * time.Millisecond)
		}
		if len(cmds) != before+1 {
			t.Fatalf("%q: %d new commands, want 1", tt.text, len(cmds)-before)
		}
		c := cmds[len(cmds)-1]
		if c.Type != tt.want.command || c.Actor.ID != "alice" || c.Actor.Channel != events.ChannelSlack || c.Actor.Kind != events.ActorUser {
			t.Errorf("%q: command %s by %+v", tt.text, c.Type, c.Actor)
		}
		var data map[string]any
		if err := json.Unmarshal(c.Data, &data); err != nil {
			t.Fatal(err)
		}
		tt.want.check(t, data)
	}
}

func TestUnknownUserIsToldHowToLink(t *testing.T) {
	t.Parallel()
	h := newHarness(t, slack.Config{})
	h.handle(t, triggered("SEV2"))
	r := h.svc.HandleCommand(context.Background(), slack.Request{UserID: h.bob.ID, ChannelID: h.ch}, "ack INC-42")
	if !strings.Contains(r.Text, "On it") {
		t.Fatalf("reply %q", r.Text)
	}
	if _, err := h.fake.WaitFor("chat.postEphemeral", 1, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	m, _ := h.fake.LastMessage(h.ch, "")
	if !m.Ephemeral || m.EphemeralTo != h.bob.ID || !strings.Contains(m.Text, "bob@example.com") || !strings.Contains(m.Text, "/incident link") {
		t.Errorf("ephemeral %+v", m)
	}
	if n := len(h.commands(t)); n != 0 {
		t.Errorf("%d commands issued for an unknown user", n)
	}
}

func TestAutoProvision(t *testing.T) {
	t.Parallel()
	h := newHarness(t, slack.Config{AutoProvision: true})
	h.handle(t, triggered("SEV2"))
	h.svc.HandleCommand(context.Background(), slack.Request{UserID: h.bob.ID, ChannelID: h.ch}, "ack INC-42")
	deadline := time.Now().Add(10 * time.Second)
	for len(h.commands(t)) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cmds := h.commands(t)
	if len(cmds) != 1 || cmds[0].Actor.ID != "bob@example.com" {
		t.Fatalf("commands %+v, want one by the provisioned bob@example.com", cmds)
	}
	u, err := h.store.UserGet(context.Background(), h.bob.ID)
	if err != nil || !u.Provisioned {
		t.Errorf("link %+v %v", u, err)
	}
}

func TestRejectionToldToIssuer(t *testing.T) {
	t.Parallel()
	h := newHarness(t, slack.Config{})
	h.handle(t, triggered("SEV2"))
	h.svc.HandleCommand(context.Background(), slack.Request{UserID: h.alice.ID, ChannelID: h.ch}, "resolve INC-42")
	deadline := time.Now().Add(10 * time.Second)
	for len(h.commands(t)) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cmd := h.commands(t)[0]
	rej := events.MustNew(events.TypeCommandRejected, "incident", incID, events.System("incident"), events.CommandRejected{
		CommandID: cmd.ID, CommandType: cmd.Type, IncidentID: incID, Code: "illegal_transition", Reason: "INC-42 is already resolved"}, events.CausedBy(cmd))
	if err := h.svc.HandleRejected(context.Background(), rej); err != nil {
		t.Fatal(err)
	}
	m, _ := h.fake.LastMessage(h.ch, "")
	if !m.Ephemeral || m.EphemeralTo != h.alice.ID || !strings.Contains(m.Text, "did not resolve: INC-42 is already resolved") {
		t.Errorf("ephemeral %+v", m)
	}
	// A rejection of a command that did not come from Slack is ignored.
	other := events.MustNew(events.TypeCommandRejected, "incident", incID, events.System("incident"), events.CommandRejected{
		CommandID: "not-ours", CommandType: cmd.Type, Code: "x", Reason: "y"})
	if err := h.svc.HandleRejected(context.Background(), other); err != nil {
		t.Fatal(err)
	}
	if n := len(h.fake.Calls("chat.postEphemeral")); n != 1 {
		t.Errorf("%d ephemeral messages, want 1", n)
	}
}

func TestChannelName(t *testing.T) {
	t.Parallel()
	for title, want := range map[string]string{
		"Checkout: 5xx > 5%":     "inc-42-checkout-5xx-5",
		"":                       "inc-42",
		"  ÜBER   wichtig!!  ":   "inc-42-ber-wichtig",
		strings.Repeat("a", 100): "inc-42-" + strings.Repeat("a", 73),
	} {
		if got := slack.ChannelName(42, title); got != want {
			t.Errorf("ChannelName(%q) = %q, want %q", title, got, want)
		}
	}
}

// TestReplicasPostOnce: two replicas of the service (two Services on one
// database) handle events of the same incidents at the same moment; each
// incident still gets exactly one message, kept current by updates, since
// only the holder of an incident's flush lease performs its effects.
func TestReplicasPostOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t, slack.Config{})
	replica := func() *slack.Service {
		svc, err := slack.New(h.store, slowPost{slackapi.New(h.fake.Token, slackapi.OptionAPIURL(h.fake.APIURL))}, nil, nil,
			slack.Config{Channel: "incidents", BaseURL: "https://firebreak.example.com"})
		if err != nil {
			t.Fatal(err)
		}
		return svc
	}
	r1, r2 := replica(), replica()
	const n = 20
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range n {
		id := fmt.Sprintf("0195f3a2-7c4e-7b3a-9d2e-%012d", i)
		ref := events.IncidentRef{IncidentID: id, Number: int64(100 + i), Version: 1}
		trig := events.MustNew(events.TypeIncidentTriggered, "incident", id, events.System("incident"), events.IncidentTriggered{
			IncidentRef: ref, Service: "checkout", DedupKey: id, Title: "replica race", Severity: "SEV3"}, events.At(t0))
		ref.Version = 2
		ack := events.MustNew(events.TypeIncidentAcknowledged, "incident", id, events.Actor{Kind: events.ActorUser, ID: "alice"},
			events.IncidentTransitioned{IncidentRef: ref, From: "triggered", To: "acknowledged"}, events.At(t0.Add(time.Minute)))
		// The trigger on one replica, the acknowledgement on the other, at
		// once: both find the incident's message not posted yet.
		wg.Add(2)
		go func() { defer wg.Done(); _ = r1.HandleIncidentEvent(ctx, trig) }()
		go func() { defer wg.Done(); _ = r2.HandleIncidentEvent(ctx, ack) }()
	}
	wg.Wait()
	// Nothing is left for the sweep: what a replica skipped because the
	// other held the lease, the holder performed after it.
	if ids, _ := h.store.EffectIncidents(ctx, 100); len(ids) != 0 {
		t.Errorf("effects left pending for %v", ids)
	}
	perIncident := map[string]int{}
	for _, m := range h.fake.Messages(h.ch) {
		if m.ThreadTS == "" {
			perIncident[strings.Fields(m.Text)[0]]++
		}
	}
	if len(perIncident) != n {
		t.Fatalf("messages for %d incidents, want %d: %v", len(perIncident), n, perIncident)
	}
	for k, c := range perIncident {
		if c != 1 {
			t.Errorf("%s: %d incident messages, want 1", k, c)
		}
	}
}

// slowPost is a Slack client whose chat.postMessage takes 20 ms longer, so
// that replicas racing on one incident overlap in it.
type slowPost struct{ *slackapi.Client }

func (c slowPost) PostMessageContext(ctx context.Context, ch string, opts ...slackapi.MsgOption) (string, string, error) {
	time.Sleep(20 * time.Millisecond)
	return c.Client.PostMessageContext(ctx, ch, opts...)
}

// TestAlertCountKeptCurrent: incident.alerts_coalesced and
// incident.alert_grouped raise the alert count the message shows (never
// lower it, whatever the order), and a grouped alert is posted in the
// thread.
func TestAlertCountKeptCurrent(t *testing.T) {
	t.Parallel()
	h := newHarness(t, slack.Config{})
	ref := events.IncidentRef{IncidentID: incID, Number: 42, Version: 1}
	h.handle(t, triggered("SEV2"))
	h.handle(t, events.MustNew(events.TypeIncidentAlertGrouped, "incident", incID, events.System("incident"), events.IncidentAlertGrouped{
		IncidentRef: ref, Service: "checkout", DedupKey: "db2-disk", Summary: "Disk 96% full on db2", GroupKey: "gk",
		Fields: map[string]string{"labels.cluster": "eu-1"}, AlertCount: 7}, events.At(t0.Add(2*time.Minute))))
	h.handle(t, events.MustNew(events.TypeIncidentAlertsCoalesced, "incident", incID, events.System("incident"), events.IncidentAlertsCoalesced{
		IncidentRef: ref, Service: "checkout", DedupKey: "k", AlertCount: 5, LastAlertAt: t0}, events.At(t0.Add(time.Minute))))
	inc, err := h.store.IncidentGet(context.Background(), incID)
	if err != nil || inc.AlertCount != 7 {
		t.Fatalf("alert count %d (%v), want 7", inc.AlertCount, err)
	}
	h.handle(t, events.MustNew(events.TypeIncidentAlertsCoalesced, "incident", incID, events.System("incident"), events.IncidentAlertsCoalesced{
		IncidentRef: ref, Service: "checkout", DedupKey: "k", AlertCount: 900, LastAlertAt: t0}, events.At(t0.Add(3*time.Minute))))
	if m := h.message(t); !strings.Contains(string(m.Blocks), "900") {
		t.Fatalf("message does not show 900 alerts: %s", m.Blocks)
	}
	thread := h.fake.Messages(h.ch)
	found := false
	for _, m := range thread {
		if m.ThreadTS != "" && strings.Contains(m.Text, "Alert `db2-disk` joined: Disk 96% full on db2") {
			found = true
		}
	}
	if !found {
		t.Fatalf("no thread post for the grouped alert in %+v", thread)
	}
}

// lostAnswer is a Slack client whose first chat.postMessage reaches Slack
// but whose answer is lost (as on a timeout after Slack posted).
type lostAnswer struct {
	*slackapi.Client
	lost atomic.Bool
}

func (c *lostAnswer) PostMessageContext(ctx context.Context, ch string, opts ...slackapi.MsgOption) (string, string, error) {
	a, b, err := c.Client.PostMessageContext(ctx, ch, opts...)
	if err == nil && c.lost.CompareAndSwap(false, true) {
		return "", "", errors.New("read tcp: i/o timeout")
	}
	return a, b, err
}

// TestIncidentMessageNotPostedTwice: the incident message carries the
// incident id in its metadata. When a post's answer is lost, the retry
// finds the message in the channel and records it instead of posting
// again; so does a replica that takes over an incident whose message has
// waited longer than a crashed holder's lease.
func TestIncidentMessageNotPostedTwice(t *testing.T) {
	t.Parallel()
	t.Run("answer lost", func(t *testing.T) {
		fake := slackfake.New(t, slackfake.Config{})
		ch := fake.AddChannel("incidents")
		store := sqlite.New(dbtest.SQLite(t, "outbox", "slack"), nil)
		api := &lostAnswer{Client: slackapi.New(fake.Token, slackapi.OptionAPIURL(fake.APIURL))}
		svc, err := slack.New(store, api, nil, nil, slack.Config{Channel: "#incidents"})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if err := svc.HandleIncidentEvent(ctx, triggered("SEV2")); err == nil {
			t.Fatal("the lost answer was not reported")
		}
		if err := svc.Flush(ctx, incID); err != nil {
			t.Fatal(err)
		}
		if n := len(fake.Calls("chat.postMessage")); n != 1 {
			t.Fatalf("%d chat.postMessage calls, want 1", n)
		}
		inc, err := store.IncidentGet(ctx, incID)
		msgs := fake.Messages(ch)
		if err != nil || len(msgs) != 1 || inc.MessageTS != msgs[0].TS || inc.Channel != ch {
			t.Fatalf("recorded %+v (%v), messages %+v", inc, err, msgs)
		}
		if len(fake.Calls("chat.update")) != 1 {
			t.Fatalf("the found message was not brought up to date: %d updates", len(fake.Calls("chat.update")))
		}
	})
	t.Run("taken over after a crash", func(t *testing.T) {
		fake := slackfake.New(t, slackfake.Config{})
		ch := fake.AddChannel("incidents")
		d := dbtest.SQLite(t, "outbox", "slack")
		clock := &fakeNow{t: t0}
		newSvc := func() *slack.Service {
			svc, err := slack.New(sqlite.New(d, clock.Now), slackapi.New(fake.Token, slackapi.OptionAPIURL(fake.APIURL)), nil, nil,
				slack.Config{Channel: ch, Now: clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			return svc
		}
		ctx := context.Background()
		// The crashed holder: it posted, then died before recording it.
		api := slackapi.New(fake.Token, slackapi.OptionAPIURL(fake.APIURL))
		if _, _, err := api.PostMessageContext(ctx, ch, slackapi.MsgOptionText("INC-42", false),
			slackapi.MsgOptionMetadata(slackapi.SlackMetadata{EventType: slack.IncidentMetadataType, EventPayload: map[string]any{"incident_id": incID}})); err != nil {
			t.Fatal(err)
		}
		// Its effect and lease were written; nobody recorded the post.
		err := sqlite.New(d, clock.Now).InTx(ctx, func(tx slack.Tx) error {
			if err := tx.IncidentPut(ctx, slack.Incident{ID: incID, Number: 42, Title: "Checkout: 5xx > 5%", Severity: "SEV2",
				Service: "checkout", Status: "triggered", Version: 1, UpdatedAt: t0}); err != nil {
				return err
			}
			if err := tx.EffectAdd(ctx, slack.Effect{IncidentID: incID, Kind: slack.EffectMessage, DedupKey: "message:e1", CreatedAt: t0}); err != nil {
				return err
			}
			_, err := tx.FlushClaim(ctx, incID, "crashed-replica", t0.Add(30*time.Second))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		clock.add(time.Minute)
		if err := newSvc().Flush(ctx, incID); err != nil {
			t.Fatal(err)
		}
		if msgs := fake.Messages(ch); len(msgs) != 1 {
			t.Fatalf("%d messages, want the crashed holder's one", len(msgs))
		}
	})
}

type fakeNow struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeNow) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeNow) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
