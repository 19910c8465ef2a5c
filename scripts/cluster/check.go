package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/bus"
	"github.com/firebreak-dev/firebreak/internal/client"
	"github.com/firebreak-dev/firebreak/internal/slackfake"
	"github.com/firebreak-dev/firebreak/services/incident"
)

// quiet waits until the system has nothing left to do: every durable
// consumer of every stream has no pending and no unacknowledged message,
// and every service's outbox is empty, twice in a row.
func quiet(ctx context.Context, js jetstream.JetStream, pool *pgxpool.Pool, timeout time.Duration, out io.Writer) error {
	calm := 0
	lastLog := time.Now()
	return poll(ctx, timeout, "consumers drained and outboxes empty", func() (bool, error) {
		// Each look is bounded on its own: a JetStream API request that
		// gets no answer while a node rejoins must not eat the whole wait.
		lctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		busy, err := busyness(lctx, js, pool)
		cancel()
		if time.Since(lastLog) > 10*time.Second {
			lastLog = time.Now()
			logf(out, "still waiting: %s %v", busy, err)
		}
		if err != nil {
			calm = 0
			return false, err
		}
		if busy != "" {
			calm = 0
			return false, errors.New(busy)
		}
		calm++
		return calm >= 3, nil
	})
}

// busyness describes what is still in flight ("" for nothing).
func busyness(ctx context.Context, js jetstream.JetStream, pool *pgxpool.Pool) (string, error) {
	for _, sc := range bus.StreamConfigs(1) {
		st, err := js.Stream(ctx, sc.Name)
		if err != nil {
			return "", err
		}
		lister := st.ListConsumers(ctx)
		for info := range lister.Info() {
			if info.NumPending > 0 || info.NumAckPending > 0 {
				return fmt.Sprintf("consumer %s: %d pending, %d unacknowledged", info.Name, info.NumPending, info.NumAckPending), nil
			}
		}
		if err := lister.Err(); err != nil {
			return "", err
		}
	}
	rows, err := pool.Query(ctx, `SELECT table_schema FROM information_schema.tables WHERE table_name = 'fb_outbox'`)
	if err != nil {
		return "", err
	}
	schemas, err := collect[string](rows)
	if err != nil {
		return "", err
	}
	for _, s := range schemas {
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM `+s+`.fb_outbox`).Scan(&n); err != nil {
			return "", err
		}
		if n > 0 {
			return fmt.Sprintf("%s.fb_outbox: %d rows", s, n), nil
		}
	}
	return "", nil
}

type scannable interface {
	Next() bool
	Scan(...any) error
	Err() error
	Close()
}

func collect[T any](rows scannable) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		var v T
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// readStream returns every envelope of a stream, oldest first, retrying
// while the cluster is still settling after a node came back (JetStream
// API requests may then find no responders for a moment).
func readStream(ctx context.Context, js jetstream.JetStream, name string) ([]events.Envelope, error) {
	var out []events.Envelope
	err := poll(ctx, time.Minute, "read "+name, func() (bool, error) {
		var err error
		out, err = readStreamOnce(ctx, js, name)
		return err == nil, err
	})
	return out, err
}

func readStreamOnce(ctx context.Context, js jetstream.JetStream, name string) ([]events.Envelope, error) {
	st, err := js.Stream(ctx, name)
	if err != nil {
		return nil, err
	}
	info, err := st.Info(ctx)
	if err != nil {
		return nil, err
	}
	last := info.State.LastSeq
	if info.State.Msgs == 0 {
		return nil, nil
	}
	cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return nil, err
	}
	var out []events.Envelope
	for {
		batch, err := cons.Fetch(500, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return nil, err
		}
		n := 0
		for m := range batch.Messages() {
			n++
			meta, err := m.Metadata()
			if err != nil {
				return nil, err
			}
			env, err := events.Decode(m.Data())
			if err != nil {
				return nil, fmt.Errorf("%s seq %d: %w", name, meta.Sequence.Stream, err)
			}
			out = append(out, env)
			if meta.Sequence.Stream >= last {
				return out, nil
			}
		}
		if err := batch.Error(); err != nil {
			return nil, err
		}
		if n == 0 {
			return nil, fmt.Errorf("%s: read %d messages, stream ends at %d", name, len(out), last)
		}
	}
}

// incidentRow is an incident as the database has it.
type incidentRow struct {
	id, service, dedup, status string
	number, alerts             int64
}

// report is what the run found; failures are the reasons to exit non-zero.
type report struct {
	Alerts            int      `json:"alerts_sent"`
	Accepted          int      `json:"alerts_accepted"`
	Refused           int      `json:"alerts_not_accepted"`
	Uncertain         int      `json:"alerts_uncertain"`
	Rejected          int64    `json:"alerts_rejected_4xx"`
	Stored            int      `json:"alerts_stored"`
	Lost              int      `json:"alerts_lost"`
	RetriedTwice      int      `json:"alerts_stored_twice_after_retry"`
	Duplicates        int      `json:"duplicate_alerts"`
	AlertCountSum     int64    `json:"sum_alert_count"`
	TriggersStored    int      `json:"triggers_stored"`
	Incidents         int      `json:"incidents"`
	ExpectedIncidents int      `json:"incidents_expected"`
	DupIncidents      int      `json:"incidents_duplicate"`
	MissingIncidents  int      `json:"incidents_missing"`
	WrongState        int      `json:"incidents_wrong_state"`
	DupEvents         int      `json:"duplicate_effects"`
	TimersExpected    int      `json:"timers_expected"`
	TimersFired       int      `json:"timers_fired"`
	Pages             int      `json:"pages"`
	PagesExpected     int      `json:"pages_expected"`
	SlackPages        int      `json:"slack_pages"`
	SlackPageDups     int      `json:"slack_pages_duplicated"`
	SlackMessages     int      `json:"slack_incident_messages"`
	SlackMessageDups  int      `json:"slack_incident_messages_duplicated"`
	AuditRecords      int      `json:"audit_records"`
	AuditMissing      int      `json:"audit_missing"`
	DeadLettered      uint64   `json:"dead_lettered"`
	Streams3          int      `json:"streams_with_3_replicas"`
	Restarts          int64    `json:"restarts_after_own_exit"`
	Kills             []string `json:"kills"`
	MaxRecovery       string   `json:"max_recovery"`
	Failures          []string `json:"failures"`
}

func (r *report) fail(format string, args ...any) {
	if len(r.Failures) < 200 {
		r.Failures = append(r.Failures, fmt.Sprintf(format, args...))
	}
}

// verify checks the end state against what the load sent.
func verify(ctx context.Context, c *cluster, l *load, pool *pgxpool.Pool, rep *report) error {
	sent := l.snapshot()
	rep.Alerts = len(sent)
	rep.Rejected = l.rejected.Load()
	if rep.Rejected > 0 {
		rep.fail("%d alerts rejected with 4xx", rep.Rejected)
	}
	for _, a := range sent {
		switch {
		case a.accepted:
			rep.Accepted++
		default:
			rep.Refused++
		}
		if a.uncertain {
			rep.Uncertain++
		}
	}

	// What intake stored: the FB_ALERTS stream.
	alerts, err := readStream(ctx, c.js, bus.StreamAlerts)
	if err != nil {
		return fmt.Errorf("read %s: %w", bus.StreamAlerts, err)
	}
	rep.Stored = len(alerts)
	stored := make([]int, len(sent))
	triggers := map[string]int{} // service/dedup -> triggers stored
	for _, env := range alerts {
		var a events.AlertReceived
		if err := env.DecodeData(&a); err != nil {
			return err
		}
		var d struct {
			Seq *int `json:"harness_seq"`
		}
		if err := json.Unmarshal(a.Details, &d); err != nil || d.Seq == nil || *d.Seq < 0 || *d.Seq >= len(sent) {
			rep.fail("alert %s in %s was not sent by the harness (details %s)", env.ID, bus.StreamAlerts, a.Details)
			continue
		}
		stored[*d.Seq]++
		if a.EventAction == events.ActionTrigger {
			triggers[a.Service+"/"+a.DedupKey]++
			rep.TriggersStored++
		}
	}
	for i, a := range sent {
		switch {
		case a.accepted && stored[i] == 0:
			rep.Lost++
			rep.fail("alert %d (%s %s/%s) was accepted (202, id %s) but is not in %s", i, a.action, keyService(a.key), keyDedup(a.key), a.id, bus.StreamAlerts)
		case stored[i] > 1 && a.uncertain:
			rep.RetriedTwice++
		case stored[i] > 1:
			rep.Duplicates++
			rep.fail("alert %d stored %d times without an uncertain attempt", i, stored[i])
		case stored[i] == 1 && !a.accepted && !a.uncertain:
			rep.fail("alert %d stored though every attempt was refused before sending", i)
		}
	}

	// The incidents.
	rows, err := pool.Query(ctx, `SELECT id, service, dedup_key, status, number, alert_count FROM fb_incident.incidents ORDER BY number`)
	if err != nil {
		return err
	}
	var incs []incidentRow
	for rows.Next() {
		var r incidentRow
		if err := rows.Scan(&r.id, &r.service, &r.dedup, &r.status, &r.number, &r.alerts); err != nil {
			rows.Close()
			return err
		}
		incs = append(incs, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	rep.Incidents = len(incs)
	byKey := map[string][]incidentRow{}
	for _, r := range incs {
		byKey[r.service+"/"+r.dedup] = append(byKey[r.service+"/"+r.dedup], r)
		rep.AlertCountSum += r.alerts
	}

	// The events: effects must happen once per incident.
	evts, err := readStream(ctx, c.js, bus.StreamEvt)
	if err != nil {
		return fmt.Errorf("read %s: %w", bus.StreamEvt, err)
	}
	effects := map[string]map[string]int{} // incident id -> type -> count
	pages := map[string]int{}
	pageKeys := map[string]bool{}
	for _, env := range evts {
		var d struct {
			IncidentID     string `json:"incident_id"`
			IdempotencyKey string `json:"idempotency_key"`
		}
		_ = env.DecodeData(&d)
		id := d.IncidentID
		if id == "" && strings.HasPrefix(env.Type, "incident.") {
			id = env.Subject
		}
		if env.Type == events.TypePageRequested {
			pages[id]++
			rep.Pages++
			if pageKeys[d.IdempotencyKey] {
				rep.fail("page %s requested twice", d.IdempotencyKey)
			}
			pageKeys[d.IdempotencyKey] = true
			continue
		}
		if effects[id] == nil {
			effects[id] = map[string]int{}
		}
		effects[id][env.Type]++
	}
	once := func(r incidentRow, typ string, want int) {
		if got := effects[r.id][typ]; got != want {
			if got > want {
				rep.DupEvents++
			}
			rep.fail("INC-%d (%s/%s): %d %s events, want %d", r.number, r.service, r.dedup, got, typ, want)
		}
	}

	var pagedNumbers []int64
	for k := range l.keys {
		key := keyService(k) + "/" + keyDedup(k)
		got := byKey[key]
		g := keyGroup(k)
		want := 1
		if g == groupResolveAPI || g == groupResolveSource {
			want = 2
		}
		rep.ExpectedIncidents += want
		switch {
		case len(got) > want:
			rep.DupIncidents += len(got) - want
			rep.fail("%s: %d incidents, want %d", key, len(got), want)
		case len(got) < want:
			rep.MissingIncidents += want - len(got)
			rep.fail("%s: %d incidents, want %d", key, len(got), want)
		}
		var sum int64
		for _, r := range got {
			sum += r.alerts
		}
		if sum != int64(triggers[key]) {
			if sum < int64(triggers[key]) {
				rep.fail("%s: alert counts add up to %d, but %d triggers were stored (lost)", key, sum, triggers[key])
			} else {
				rep.fail("%s: alert counts add up to %d, but %d triggers were stored (counted twice)", key, sum, triggers[key])
			}
		}
		if len(got) != want {
			continue
		}
		for i, r := range got {
			once(r, events.TypeIncidentTriggered, 1)
			wantStatus := string(incident.StatusTriggered)
			switch {
			case g == groupAck:
				wantStatus = string(incident.StatusEscalated)
				once(r, events.TypeIncidentAcknowledged, 1)
				once(r, events.TypeIncidentEscalated, 1)
				rep.TimersExpected++
				if effects[r.id][events.TypeIncidentEscalated] > 0 {
					rep.TimersFired += effects[r.id][events.TypeIncidentEscalated]
				}
			case (g == groupResolveAPI || g == groupResolveSource) && i == 0:
				wantStatus = string(incident.StatusResolved)
				once(r, events.TypeIncidentResolved, 1)
			}
			if r.status != wantStatus {
				rep.WrongState++
				rep.fail("INC-%d (%s): status %s, want %s", r.number, key, r.status, wantStatus)
			}
			if paged(g) {
				pagedNumbers = append(pagedNumbers, r.number)
				rep.PagesExpected++
				if pages[r.id] != 1 {
					rep.fail("INC-%d (%s): %d pages, want 1", r.number, key, pages[r.id])
				}
			}
		}
	}
	if rep.Pages != rep.PagesExpected {
		rep.fail("%d pages requested, want %d", rep.Pages, rep.PagesExpected)
	}

	// The API agrees with the database.
	if err := checkAPI(ctx, l, incs, rep); err != nil {
		return err
	}

	// Slack saw each page once and one incident message per incident.
	numbers := make([]int64, 0, len(incs))
	for _, r := range incs {
		numbers = append(numbers, r.number)
	}
	if err := checkSlack(ctx, c.slack, numbers, pagedNumbers, rep); err != nil {
		return err
	}

	// Nothing dead-lettered.
	var dlq *jetstream.StreamInfo
	if err := poll(ctx, 30*time.Second, "read "+bus.StreamDLQ, func() (bool, error) {
		st, err := c.js.Stream(ctx, bus.StreamDLQ)
		if err == nil {
			dlq, err = st.Info(ctx)
		}
		return err == nil, err
	}); err != nil {
		return err
	}
	rep.DeadLettered = dlq.State.Msgs
	if dlq.State.Msgs > 0 {
		rep.fail("%d messages dead-lettered (see the %s stream)", dlq.State.Msgs, bus.StreamDLQ)
	}

	// Every stream has a copy on each of the three nodes.
	for _, sc := range bus.StreamConfigs(3) {
		var info *jetstream.StreamInfo
		if err := poll(ctx, 30*time.Second, "stream "+sc.Name, func() (bool, error) {
			st, err := c.js.Stream(ctx, sc.Name)
			if err == nil {
				info, err = st.Info(ctx)
			}
			return err == nil, err
		}); err != nil {
			return err
		}
		if info.Config.Replicas != 3 || info.Cluster == nil || len(info.Cluster.Replicas) != 2 {
			rep.fail("stream %s: %d replicas configured, %s", sc.Name, info.Config.Replicas, describeCluster(info))
		} else {
			rep.Streams3++
		}
	}

	// The audit log holds every alert and event, once, and verifies.
	auditIDs, err := collect[string](must(pool.Query(ctx, `SELECT msg_id FROM fb_audit.audit_record`)))
	if err != nil {
		return fmt.Errorf("read the audit log: %w", err)
	}
	rep.AuditRecords = len(auditIDs)
	have := make(map[string]bool, len(auditIDs))
	for _, id := range auditIDs {
		have[id] = true
	}
	for _, env := range slices.Concat(alerts, evts) {
		if !have[env.ID] {
			rep.AuditMissing++
		}
	}
	if rep.AuditMissing > 0 {
		rep.fail("%d alerts and events are not in the audit log", rep.AuditMissing)
	}
	cmd := exec.CommandContext(ctx, c.fb, "audit", "verify", "--postgres", c.pgURL)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if out, err := cmd.CombinedOutput(); err != nil {
		rep.fail("firebreak audit verify: %v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// must passes on a query's rows, turning a query error into rows that
// report it.
func must(rows scannable, err error) scannable {
	if err != nil {
		return errRows{err}
	}
	return rows
}

type errRows struct{ err error }

func (e errRows) Next() bool        { return false }
func (e errRows) Scan(...any) error { return e.err }
func (e errRows) Err() error        { return e.err }
func (e errRows) Close()            {}

// checkAPI lists every incident through the API (paging through every
// incident replica in turn) and compares with the database.
func checkAPI(ctx context.Context, l *load, incs []incidentRow, rep *report) error {
	want := map[string]incidentRow{}
	for _, r := range incs {
		want[r.id] = r
	}
	seen := 0
	cursor := ""
	for page := 0; ; page++ {
		cl := client.New(l.incident[page%len(l.incident)], l.token, "")
		res, err := cl.ListIncidents(ctx, client.ListOptions{Limit: 100, Cursor: cursor})
		if err != nil {
			return fmt.Errorf("list incidents through the API: %w", err)
		}
		for _, i := range res.Items {
			seen++
			r, ok := want[i.ID]
			switch {
			case !ok:
				rep.fail("API lists %s, which the database does not have", i.Key)
			case string(i.Status) != r.status || i.AlertCount != r.alerts:
				rep.fail("API shows %s %s with %d alerts; the database %s with %d", i.Key, i.Status, i.AlertCount, r.status, r.alerts)
			}
		}
		if res.NextCursor == "" {
			break
		}
		cursor = res.NextCursor
	}
	if seen != len(incs) {
		rep.fail("API lists %d incidents, the database has %d", seen, len(incs))
	}
	return nil
}

func describeCluster(info *jetstream.StreamInfo) string {
	if info.Cluster == nil {
		return "no cluster information"
	}
	return fmt.Sprintf("leader %q with %d followers", info.Cluster.Leader, len(info.Cluster.Replicas))
}

var incRef = regexp.MustCompile(`\bINC-(\d+)\b`)

// slackCounts counts the top-level messages of a fake Slack channel by the
// first incident number they name.
func slackCounts(fake *slackfake.Server, channel string) map[int64]int {
	out := map[int64]int{}
	ch, ok := fake.Channel(channel)
	if !ok {
		return out
	}
	for _, m := range fake.Messages(ch.ID) {
		if m.ThreadTS != "" && m.ThreadTS != m.TS {
			continue // a reply in an incident message's thread
		}
		if sm := incRef.FindStringSubmatch(m.Text); sm != nil {
			n, _ := strconv.ParseInt(sm[1], 10, 64)
			out[n]++
		}
	}
	return out
}

// checkSlack waits (up to a minute: notify and slack work off the events
// asynchronously) until the fake Slack holds a page for every paged
// incident and an incident message for every incident, then fails on any
// missing or duplicated one.
func checkSlack(ctx context.Context, fake *slackfake.Server, all, paged []int64, rep *report) error {
	complete := func(counts map[int64]int, want []int64) bool {
		for _, n := range want {
			if counts[n] == 0 {
				return false
			}
		}
		return true
	}
	var pages, msgs map[int64]int
	_ = poll(ctx, time.Minute, "Slack deliveries", func() (bool, error) {
		pages, msgs = slackCounts(fake, slackPages), slackCounts(fake, slackIncidents)
		return complete(pages, paged) && complete(msgs, all), nil
	})
	if ctx.Err() != nil {
		return ctx.Err()
	}
	check := func(counts map[int64]int, want []int64, what string, delivered, dups *int) {
		wanted := map[int64]bool{}
		for _, n := range want {
			wanted[n] = true
			switch c := counts[n]; {
			case c == 0:
				rep.fail("Slack: no %s for INC-%d", what, n)
			case c > 1:
				*dups += c - 1
				rep.fail("Slack: %d %ss for INC-%d, want 1", c, what, n)
			}
			*delivered += min(counts[n], 1)
		}
		for n, c := range counts {
			if !wanted[n] {
				*dups += c
				rep.fail("Slack: %d unexpected %ss for INC-%d", c, what, n)
			}
		}
	}
	check(pages, paged, "page", &rep.SlackPages, &rep.SlackPageDups)
	check(msgs, all, "incident message", &rep.SlackMessages, &rep.SlackMessageDups)
	return nil
}
