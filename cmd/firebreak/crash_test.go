package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/internal/client"
	"github.com/firebreak-dev/firebreak/services/incident"
	"github.com/firebreak-dev/firebreak/services/intake"
)

// buildFirebreak builds the command into a temporary directory.
func buildFirebreak(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "firebreak")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// devServer is a `firebreak dev` process started by a Go test.
type devServer struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	info DevInfo
	done chan struct{}
	err  error
}

// crashAckWait is the dev process's --ack-wait: how long before JetStream
// redelivers what the killed process had in flight.
const crashAckWait = 3 * time.Second

// startDevProcess starts `firebreak dev` on dataDir and waits until it is
// ready. The process is killed at the end of the test if still running.
func startDevProcess(t *testing.T, bin, dataDir string) *devServer {
	t.Helper()
	if err := os.Remove(filepath.Join(dataDir, "dev.json")); err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "dev", "--data-dir", dataDir, "--http-addr", "127.0.0.1:0", "--ack-wait", crashAckWait.String(),
		"--nats-listen", "", "--sample=false", "--log-level", "error")
	// The process must not pick up the developer's FIREBREAK_* settings.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "FIREBREAK_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	s := &devServer{cmd: cmd, out: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = s.out, s.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		s.err = cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			_ = cmd.Process.Kill()
			<-s.done
		}
	})
	info, err := waitDev(dataDir, cmd.Process.Pid, s.done)
	if err != nil {
		t.Fatalf("firebreak dev: %v\n%s", err, s.out.String())
	}
	s.info = info
	return s
}

// kill9 kills the process with SIGKILL, calls then (while the process may
// still be dying) and checks that the SIGKILL is what ended it.
func (s *devServer) kill9(t *testing.T, then func()) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9: %v", err)
	}
	then()
	<-s.done
	var ee *exec.ExitError
	if !errors.As(s.err, &ee) {
		t.Fatalf("firebreak dev ended with %v before kill -9\n%s", s.err, s.out.String())
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("firebreak dev ended with %v, not by SIGKILL\n%s", s.err, s.out.String())
	}
}

// sendStats is what the senders saw, by outcome.
type sendStats struct {
	mu        sync.Mutex
	accepted  map[string]int // dedup key → alerts answered 202
	uncertain map[string]int // dedup key → alerts whose answer was lost in the crash
	nAccepted int
	rejected  int // answered with an API error: not accepted
	refused   int // never reached the server
	half      chan struct{}
	halfAt    int
}

func (s *sendStats) record(key string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ae *client.APIError
	switch {
	case err == nil:
		s.accepted[key]++
		s.nAccepted++
		if s.nAccepted == s.halfAt {
			close(s.half)
		}
	case errors.As(err, &ae):
		s.rejected++
	case errors.Is(err, syscall.ECONNREFUSED):
		s.refused++
	default:
		// Sent, but the connection died before the answer: the alert may
		// or may not have been stored.
		s.uncertain[key]++
	}
}

// TestKill9KeepsEveryAcceptedAlert sends alerts concurrently, acknowledges
// incidents meanwhile, kills `firebreak dev` with SIGKILL mid-stream and
// restarts it on the same data dir. Every alert answered 202 must be
// counted on exactly one incident per dedup key — nothing lost, nothing
// counted twice — acknowledgements answered 200 must stand, and the admin
// token must survive.
func TestKill9KeepsEveryAcceptedAlert(t *testing.T) {
	if testing.Short() {
		t.Skip("builds firebreak and kills it with SIGKILL; skipped with -short")
	}
	t.Parallel()
	const (
		total   = 300
		senders = 8
		keys    = 100
		service = "crash"
	)
	bin := buildFirebreak(t)
	dataDir := t.TempDir()
	ctx := context.Background()

	first := startDevProcess(t, bin, dataDir)
	sendStart := time.Now()
	tokenBefore, err := os.ReadFile(filepath.Join(dataDir, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(tokenBefore))
	c := client.New(first.info.HTTPURL, token, "")

	stats := &sendStats{accepted: map[string]int{}, uncertain: map[string]int{}, half: make(chan struct{}), halfAt: total / 2}
	var (
		next, sent atomic.Int64
		killed     atomic.Bool
		wg         sync.WaitGroup
	)
	for range senders {
		wg.Go(func() {
			for !killed.Load() {
				i := next.Add(1) - 1
				if i >= total {
					return
				}
				key := fmt.Sprintf("key-%03d", i%keys)
				sent.Add(1)
				_, err := c.SendAlert(ctx, intake.Alert{Service: service, DedupKey: key,
					Summary: "crash test " + key, Severity: "error"})
				stats.record(key, err)
				// A little jitter so that acknowledgements interleave.
				time.Sleep(rand.N(30 * time.Millisecond))
			}
		})
	}
	// Acknowledge whatever incidents exist meanwhile; keep those the server
	// confirmed.
	var (
		ackMu sync.Mutex
		acked = map[string]bool{} // dedup key → acknowledged (answered 200)
		acks  atomic.Int64
	)
	wg.Go(func() {
		for !killed.Load() {
			page, err := c.ListIncidents(ctx, client.ListOptions{Status: "triggered", Limit: 200})
			if err != nil || len(page.Items) == 0 {
				time.Sleep(5 * time.Millisecond)
				continue
			}
			inc, err := c.Acknowledge(ctx, page.Items[rand.IntN(len(page.Items))].ID, "crash test")
			acks.Add(1)
			if err == nil {
				ackMu.Lock()
				acked[inc.DedupKey] = true
				ackMu.Unlock()
			}
		}
	})

	select {
	case <-stats.half:
	case <-time.After(20 * time.Second):
		t.Fatalf("only %d alerts accepted in 20s\n%s", stats.nAccepted, first.out.String())
	}
	halfTook := time.Since(sendStart)
	first.kill9(t, func() { killed.Store(true) })
	killedAt := time.Now()
	wg.Wait()

	second := startDevProcess(t, bin, dataDir)
	restartTook := time.Since(killedAt)
	tokenAfter, err := os.ReadFile(filepath.Join(dataDir, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(tokenAfter, tokenBefore) {
		t.Errorf("admin token changed across kill -9: %q → %q", tokenBefore, tokenAfter)
	}
	if second.info.TokenFile != first.info.TokenFile {
		t.Errorf("token file moved: %s → %s", first.info.TokenFile, second.info.TokenFile)
	}
	c = client.New(second.info.HTTPURL, token, "")

	// Settle: the restarted consumers work through what was stored but not
	// yet applied, and JetStream redelivers what the killed process had
	// been handed but not acknowledged once its ack wait has passed. Only
	// after that could an alert applied twice show, so wait at least that.
	maxSum := int64(stats.nAccepted)
	for _, n := range stats.uncertain {
		maxSum += int64(n)
	}
	var (
		incs    []incident.IncidentJSON
		byKey   map[string][]incident.IncidentJSON
		sum     int64
		last    int64 = -1
		stable  time.Time
		settled bool
		early   int64 // counted before the ack wait had passed
	)
	redelivered := killedAt.Add(crashAckWait + 2*time.Second)
	deadline := redelivered.Add(15 * time.Second)
	for time.Now().Before(deadline) {
		incs, err = listAll(ctx, c)
		if err != nil {
			t.Fatalf("list incidents: %v", err)
		}
		byKey, sum = map[string][]incident.IncidentJSON{}, 0
		for _, i := range incs {
			byKey[i.DedupKey] = append(byKey[i.DedupKey], i)
			sum += i.AlertCount
		}
		if sum != last {
			last, stable = sum, time.Now()
		}
		if time.Now().Before(killedAt.Add(crashAckWait)) {
			early = sum
		}
		if allCounted(byKey, stats.accepted) && time.Now().After(redelivered) && time.Since(stable) > 1500*time.Millisecond {
			settled = true
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	settleTook := time.Since(killedAt)

	uncertainN := int(maxSum) - stats.nAccepted
	t.Logf("%d accepted after %s; sent %d alerts over %d keys with %d senders; before kill -9: %d accepted (202), %d rejected, %d refused, %d unanswered; %d ack attempts, %d acknowledged",
		stats.halfAt, halfTook.Round(time.Millisecond), sent.Load(), keys, senders, stats.nAccepted, stats.rejected, stats.refused, uncertainN, acks.Load(), len(acked))
	t.Logf("after restart (%s after the kill to ready, %s to settle): %d incidents, sum of alert_count %d (accepted %d, at most %d); %d counted within the %s ack wait",
		restartTook.Round(time.Millisecond), settleTook.Round(time.Millisecond), len(incs), sum, stats.nAccepted, maxSum, early, crashAckWait)
	if !settled {
		t.Errorf("incidents did not settle within the deadline: sum of alert_count %d, accepted %d", sum, stats.nAccepted)
	}
	if stats.rejected > 0 {
		t.Errorf("%d alerts were refused with an API error before the kill", stats.rejected)
	}

	// One incident per dedup key with an accepted trigger; alerts whose
	// answer was lost may or may not have made one.
	for _, i := range incs {
		if i.Service != service {
			t.Errorf("unexpected incident %s for service %q", i.Key, i.Service)
		}
	}
	for key, list := range byKey {
		if len(list) > 1 {
			t.Errorf("dedup key %s has %d incidents: %v", key, len(list), incidentKeys(list))
		}
		if stats.accepted[key] == 0 && stats.uncertain[key] == 0 {
			t.Errorf("dedup key %s has incident %s but no alert of it was sent successfully", key, list[0].Key)
		}
	}
	var missing []string
	for key := range stats.accepted {
		if len(byKey[key]) == 0 {
			missing = append(missing, key)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		t.Errorf("%d dedup keys with accepted alerts have no incident: %v", len(missing), missing)
	}

	// Each accepted alert counted once: per key, accepted ≤ alert_count ≤
	// accepted + unanswered.
	var lost, doubled []string
	for key, list := range byKey {
		var got int64
		for _, i := range list {
			got += i.AlertCount
		}
		lo, hi := int64(stats.accepted[key]), int64(stats.accepted[key]+stats.uncertain[key])
		switch {
		case got < lo:
			lost = append(lost, fmt.Sprintf("%s: %d counted, %d accepted", key, got, lo))
		case got > hi:
			doubled = append(doubled, fmt.Sprintf("%s: %d counted, %d accepted + %d unanswered", key, got, lo, hi-lo))
		}
	}
	sort.Strings(lost)
	sort.Strings(doubled)
	if len(lost) > 0 {
		t.Errorf("accepted alerts lost: %v", lost)
	}
	if len(doubled) > 0 {
		t.Errorf("alerts counted more than once: %v", doubled)
	}
	if sum < int64(stats.nAccepted) || sum > maxSum {
		t.Errorf("sum of alert_count %d, want %d accepted (+ up to %d unanswered)", sum, stats.nAccepted, uncertainN)
	}

	// Acknowledgements the server confirmed before the kill stand.
	for key := range acked {
		list := byKey[key]
		if len(list) == 0 || list[0].AcknowledgedAt == nil {
			t.Errorf("incident of %s was acknowledged (200) before the kill but is %s after", key, statuses(list))
		}
	}

	if t.Failed() {
		t.Logf("first run output:\n%s\nsecond run output:\n%s", first.out.String(), second.out.String())
	}
}

// allCounted reports whether every dedup key has at least its accepted
// alerts counted.
func allCounted(byKey map[string][]incident.IncidentJSON, accepted map[string]int) bool {
	for key, n := range accepted {
		var got int64
		for _, i := range byKey[key] {
			got += i.AlertCount
		}
		if got < int64(n) {
			return false
		}
	}
	return true
}

// listAll returns every incident, following the cursor.
func listAll(ctx context.Context, c *client.Client) ([]incident.IncidentJSON, error) {
	var all []incident.IncidentJSON
	cursor := ""
	for {
		page, err := c.ListIncidents(ctx, client.ListOptions{Limit: 200, Cursor: cursor})
		if err != nil {
			return nil, err
		}
		all = append(all, page.Items...)
		if page.NextCursor == "" {
			return all, nil
		}
		cursor = page.NextCursor
	}
}

func incidentKeys(list []incident.IncidentJSON) []string {
	var out []string
	for _, i := range list {
		out = append(out, i.Key)
	}
	return out
}

func statuses(list []incident.IncidentJSON) string {
	if len(list) == 0 {
		return "missing"
	}
	return string(list[0].Status)
}
