package slack

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/firebreak-dev/firebreak/events"
)

// issueStore records the commands each committed transaction held; its
// first transaction waits for hold to close, and a command for incident
// "bad" fails its transaction.
type issueStore struct {
	Store
	hold chan struct{}

	mu        sync.Mutex
	calls     int
	committed [][]string
}

type issueTx struct {
	Tx
	cmds []string
}

var errBad = errors.New("bad command")

func (t *issueTx) CommandAdd(_ context.Context, c IssuedCommand) error {
	if c.IncidentID == "bad" {
		return errBad
	}
	t.cmds = append(t.cmds, c.IncidentID)
	return nil
}

func (t *issueTx) Emit(context.Context, ...events.Envelope) error { return nil }

func (s *issueStore) InTx(_ context.Context, fn func(Tx) error) error {
	s.mu.Lock()
	s.calls++
	first := s.calls == 1
	s.mu.Unlock()
	if first {
		<-s.hold
	}
	tx := &issueTx{}
	if err := fn(tx); err != nil {
		return err
	}
	s.mu.Lock()
	s.committed = append(s.committed, tx.cmds)
	s.mu.Unlock()
	return nil
}

func (s *issueStore) waitCalls(n int) {
	for {
		s.mu.Lock()
		calls := s.calls
		s.mu.Unlock()
		if calls >= n {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// waitPending waits until n commands wait for the transaction in flight.
func waitPending(svc *Service, n int) {
	for {
		svc.txs.mu.Lock()
		waiting := len(svc.txs.pending)
		svc.txs.mu.Unlock()
		if waiting == n {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// TestIssuedCommandsShareTransactions: commands issued while a transaction
// is being written are committed together in the next one; when that one
// fails, each is retried alone and only the bad one fails.
func TestIssuedCommandsShareTransactions(t *testing.T) {
	t.Parallel()
	st := &issueStore{hold: make(chan struct{})}
	commits := 0
	svc, err := New(st, slackapi.New("xoxb-test"), nil, nil, Config{Channel: "C1", OnCommit: func() { commits++ }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	issue := func(inc string) error {
		return svc.issue(ctx, Request{UserID: "U1", ChannelID: "C1"}, events.Actor{Kind: events.ActorUser, ID: "alice"},
			events.CmdIncidentAcknowledge, inc, events.IncidentCommand{Incident: inc})
	}
	firstDone := make(chan error, 1)
	go func() { firstDone <- issue("first") }()
	st.waitCalls(1)
	// The first transaction is held; 20 commands gather meanwhile.
	const n = 20
	results := make(chan [2]string, n)
	var wg sync.WaitGroup
	for i := range n {
		inc := "inc-" + strconv.Itoa(i)
		if i == 7 {
			inc = "bad"
		}
		wg.Go(func() {
			err := issue(inc)
			msg := ""
			if err != nil {
				msg = err.Error()
			}
			results <- [2]string{inc, msg}
		})
	}
	waitPending(svc, n)
	close(st.hold)
	if err := <-firstDone; err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(results)
	for r := range results {
		if (r[0] == "bad") != (r[1] != "") {
			t.Errorf("command for %s: error %q", r[0], r[1])
		}
	}
	// 1: the first alone; 2: the 20 together (failed on "bad"); then each
	// of the 20 alone.
	if st.calls != 2+n {
		t.Errorf("%d transactions, want %d", st.calls, 2+n)
	}
	var all []string
	for _, c := range st.committed {
		if len(c) != 1 {
			t.Errorf("committed together after the shared one failed: %v", c)
		}
		all = append(all, c...)
	}
	if len(all) != n || slices.Contains(all, "bad") || !slices.Contains(all, "first") {
		t.Errorf("committed %v", all)
	}
	if commits != n {
		t.Errorf("OnCommit called %d times, want once per committed transaction (%d)", commits, n)
	}

	// Without the failure, the gathered commands commit in one.
	st2 := &issueStore{hold: make(chan struct{})}
	svc.store = st2
	go func() { firstDone <- issue("first") }()
	st2.waitCalls(1)
	for i := range n {
		wg.Go(func() {
			if err := issue("inc-" + strconv.Itoa(i)); err != nil {
				t.Error(err)
			}
		})
	}
	waitPending(svc, n)
	close(st2.hold)
	<-firstDone
	wg.Wait()
	if len(st2.committed) != 2 || len(st2.committed[1]) != n {
		t.Errorf("transactions %v, want the first alone and then the %d together", st2.committed, n)
	}
}
