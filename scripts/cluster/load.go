package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/firebreak-dev/firebreak/internal/client"
	"github.com/firebreak-dev/firebreak/services/escalation/configfile"
	"github.com/firebreak-dev/firebreak/services/incident"
)

// The dedup keys are split into four groups, each with its own technical
// service and its own expected ending:
const (
	// groupAck: acknowledged through the API after phase 1; the service's
	// acknowledgement timeout (a durable timer) then fires once and
	// escalates it. One incident per key, ending escalated.
	groupAck = iota
	// groupResolveAPI: resolved through the API after phase 1; phase 2's
	// alerts open a second incident, which stays triggered. Paged by the
	// escalation policy: one page per incident.
	groupResolveAPI
	// groupResolveSource: resolved by a resolve alert from the source after
	// phase 1; phase 2 opens a second incident.
	groupResolveSource
	// groupOpen: only triggers; one incident per key, ending triggered.
	// Paged: one page per incident.
	groupOpen
	numGroups
)

var groupService = [numGroups]string{"cl-ack", "cl-api", "cl-src", "cl-open"}

// paged reports whether a group's service has an escalation policy.
func paged(group int) bool { return group == groupResolveAPI || group == groupOpen }

// pagingConfig is applied through the escalation service's API before the
// load: the four services, one user, one policy whose first level pages
// the fake Slack's #harness-pages at once and whose next level is far
// beyond the run.
func pagingConfig(ackTimeout time.Duration) string {
	return fmt.Sprintf(`services:
  - {name: cl-ack, ack_timeout: %s}
  - {name: cl-api, escalation_policy: cl-policy}
  - {name: cl-src}
  - {name: cl-open, escalation_policy: cl-policy}
users:
  - id: cl-user
    name: Cluster Harness
    email: harness@example.com
    contact_methods:
      - {name: slack, type: slack, address: U0HARNESS}
    notification_rules:
      - {contact_method: slack, delay: 0m}
policies:
  - name: cl-policy
    levels:
      - delay: 24h
        targets:
          - slack_channel: "%s"
`, ackTimeout, slackPages)
}

// outcome of one alert, over all its attempts.
type alertRecord struct {
	seq    int // index in load.alerts, also details.harness_seq
	key    int
	action string // trigger or resolve
	phase  int
	// accepted: some attempt got 202. uncertain: some attempt failed in a
	// way that may have stored it (a 5xx, or the connection broke after
	// the request was sent); the harness retried it, so it may be stored
	// more than once — HTTP intake is at least once for a client that
	// retries.
	accepted, uncertain bool
	sentAt              time.Time // first attempt
	id                  string    // envelope id of the accepted attempt
}

// load drives alerts and actions and keeps what was sent.
type load struct {
	token      string
	intake     []string // base URLs of the intake replicas
	incident   []string // base URLs of the incident replicas
	escalation string
	keys       int
	http       *http.Client
	client     func(base string) *client.Client

	mu     sync.Mutex
	alerts []*alertRecord

	rejected atomic.Int64 // 4xx answers: a harness bug or a service bug
}

func newLoad(token string, intake, incident []string, escalation string, keys, workers int) *load {
	tr := &http.Transport{MaxIdleConnsPerHost: workers, IdleConnTimeout: 30 * time.Second}
	return &load{
		token: token, intake: intake, incident: incident, escalation: escalation, keys: keys,
		http:   &http.Client{Transport: tr, Timeout: 15 * time.Second},
		client: func(base string) *client.Client { return client.New(base, token, "") },
	}
}

// urls are the base URLs of a service's replicas.
func (c *cluster) urls(service string) []string {
	var out []string
	for _, r := range c.replicas[service] {
		out = append(out, r.url())
	}
	return out
}

func keyService(k int) string { return groupService[k%numGroups] }
func keyDedup(k int) string   { return fmt.Sprintf("key-%04d", k) }
func keyGroup(k int) int      { return k % numGroups }

// configure applies the paging configuration and waits until the incident
// service knows every harness service (it learns them from events).
func (l *load) configure(ctx context.Context, pool *pgxpool.Pool, ackTimeout time.Duration) error {
	cfg, _, err := configfile.Parse([]byte(pagingConfig(ackTimeout)))
	if err != nil {
		return fmt.Errorf("harness paging config: %w", err)
	}
	if _, err := l.client(l.escalation).ApplyConfig(ctx, cfg, false); err != nil {
		return fmt.Errorf("apply paging config: %w", err)
	}
	return poll(ctx, 60*time.Second, "incident service learns the harness services", func() (bool, error) {
		var n int
		err := pool.QueryRow(ctx, `SELECT count(*) FROM fb_incident.services WHERE name = ANY($1) AND
			(name <> 'cl-ack' OR ack_timeout_ms > 0)`, groupService[:]).Scan(&n)
		return n == numGroups, err
	})
}

// sendPhase sends n triggers of phase over d, round robin over the keys of
// the given groups, from workers goroutines.
func (l *load) sendPhase(ctx context.Context, phase, n int, d time.Duration, workers int, groups []int) {
	var keys []int
	for k := range l.keys {
		for _, g := range groups {
			if keyGroup(k) == g {
				keys = append(keys, k)
			}
		}
	}
	jobs := make(chan *alertRecord, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for a := range jobs {
				l.send(ctx, a)
			}
		}()
	}
	interval := d / time.Duration(max(n, 1))
	start := time.Now()
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		// Pace by the clock, not by a ticker, so slow sends do not pile up
		// ticks; when the workers are all busy the offered rate drops.
		if wait := time.Until(start.Add(time.Duration(i) * interval)); wait > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(wait):
			}
		}
		a := l.newAlert(keys[i%len(keys)], "trigger", phase)
		select {
		case jobs <- a:
		case <-ctx.Done():
		}
	}
	close(jobs)
	wg.Wait()
}

// send posts one alert, failing over between intake replicas, until it is
// accepted or its 20 s are up. The alert's details carry its sequence
// number so the harness can find it in the FB_ALERTS stream.
func (l *load) send(ctx context.Context, a *alertRecord) {
	seq := a.seq
	body, _ := json.Marshal(map[string]any{
		"service": keyService(a.key), "dedup_key": keyDedup(a.key), "severity": "warning",
		"summary": "cluster harness " + keyDedup(a.key), "event_action": a.action,
		"details": map[string]any{"harness_seq": seq},
	})
	intakes := l.intake
	start := time.Now()
	l.mu.Lock()
	a.sentAt = start
	l.mu.Unlock()
	deadline := start.Add(20 * time.Second)
	for attempt := 0; time.Now().Before(deadline) && ctx.Err() == nil; attempt++ {
		base := intakes[(seq+attempt)%len(intakes)]
		id, status, err := l.post(ctx, base+"/api/v1/alerts", body)
		switch {
		case err == nil && status == http.StatusAccepted:
			l.mu.Lock()
			a.accepted, a.id = true, id
			l.mu.Unlock()
			return
		case err == nil && status >= 400 && status < 500 && status != http.StatusTooManyRequests:
			l.rejected.Add(1)
			return
		case err != nil && isDialError(err):
			// Nothing was sent; try the other replica.
		default:
			l.mu.Lock()
			a.uncertain = true
			l.mu.Unlock()
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(min(attempt+1, 5)) * 50 * time.Millisecond):
		}
	}
}

// newAlert records an alert about to be sent.
func (l *load) newAlert(key int, action string, phase int) *alertRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	a := &alertRecord{seq: len(l.alerts), key: key, action: action, phase: phase}
	l.alerts = append(l.alerts, a)
	return a
}

// snapshot returns the records sent so far (the slice is append-only).
func (l *load) snapshot() []*alertRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]*alertRecord, len(l.alerts))
	for i, a := range l.alerts {
		c := *a
		out[i] = &c
	}
	return out
}

func (l *load) post(ctx context.Context, url string, body []byte) (string, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return "", 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+l.token)
	resp, err := l.http.Do(req)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	var out struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(b, &out)
	return out.ID, resp.StatusCode, nil
}

// isDialError reports an error that happened before the request was sent.
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// openIncident returns the open incident of a key from the database.
func openIncident(ctx context.Context, pool *pgxpool.Pool, k int) (id, status string, err error) {
	err = pool.QueryRow(ctx, `SELECT id, status FROM fb_incident.incidents WHERE service = $1 AND dedup_key = $2
		AND status IN ('triggered','escalated','acknowledged','contained','mitigated')`, keyService(k), keyDedup(k)).Scan(&id, &status)
	return id, status, err
}

// act runs an incident action through the API for each key's open
// incident, failing over between incident replicas; a failed attempt is
// settled by reading the incident's status (the action may have been
// applied before the replica died).
func (l *load) act(ctx context.Context, pool *pgxpool.Pool, keys []int, action string, done func(status string) bool) error {
	incs := l.incident
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	sem := make(chan struct{}, 8)
	for i, k := range keys {
		id, _, err := openIncident(ctx, pool, k)
		if err != nil {
			return fmt.Errorf("%s %s: no open incident: %w", keyService(k), keyDedup(k), err)
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			err := poll(ctx, 30*time.Second, action+" "+id, func() (bool, error) {
				base := incs[i%len(incs)]
				i++
				_, err := l.client(base).Act(ctx, id, action, incident.CommandBody{Note: "cluster harness"})
				if err == nil {
					return true, nil
				}
				var status string
				if qerr := pool.QueryRow(ctx, `SELECT status FROM fb_incident.incidents WHERE id = $1`, id).Scan(&status); qerr == nil && done(status) {
					return true, nil
				}
				return false, nil
			})
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// poll calls f until it reports done, fails, or timeout passes.
func poll(ctx context.Context, timeout time.Duration, what string, f func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	var last error
	for {
		ok, err := f()
		if err != nil {
			last = err
		}
		if ok && err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			if last != nil {
				return fmt.Errorf("%s: not done after %s: %w", what, timeout, last)
			}
			return fmt.Errorf("%s: not done after %s", what, timeout)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", what, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
