package bus

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/firebreak-dev/firebreak/events"
)

// testTimeout bounds every wait in these tests.
const testTimeout = 30 * time.Second

// testLogger writes warnings and errors to the test's output.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// startJetStream starts an embedded server on a temp dir with the firebreak
// streams and returns a JetStream client on it; both end with the test.
func startJetStream(t testing.TB) jetstream.JetStream {
	t.Helper()
	e, err := StartEmbedded(EmbeddedConfig{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Shutdown)
	nc, err := e.Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := EnsureStreams(ctx, js, 1); err != nil {
		t.Fatal(err)
	}
	return js
}

// testEnvelope returns a valid event envelope numbered n.
func testEnvelope(t testing.TB, n int) events.Envelope {
	t.Helper()
	env, err := events.New(events.TypeIncidentNoteAdded, "bustest", "inc-1", events.System("bustest"),
		events.IncidentNoteAdded{NoteID: int64(n), Text: fmt.Sprintf("note %d", n)})
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// startRouter runs r in the background until the returned stop is called
// (or the test ends); stop returns Run's error.
func startRouter(t testing.TB, r *Router) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	select {
	case <-r.Running():
	case err := <-done:
		cancel()
		t.Fatalf("router stopped at start: %v", err)
	case <-time.After(testTimeout):
		cancel()
		t.Fatal("router not running")
	}
	var once sync.Once
	var runErr error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(testTimeout):
				runErr = fmt.Errorf("router did not stop within %s", testTimeout)
			}
		})
		return runErr
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	})
	return stop
}

// eventually polls cond until it holds or the test timeout passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitSettled waits until the consumer has nothing pending or unacknowledged.
func waitSettled(t testing.TB, js jetstream.JetStream, stream, consumer string) {
	t.Helper()
	eventually(t, "consumer "+consumer+" settled", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := js.Consumer(ctx, stream, consumer)
		if err != nil {
			return false
		}
		info, err := c.Info(ctx)
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0 && info.NumRedelivered == 0
	})
}

// counter counts handler invocations per envelope id.
type counter struct {
	mu sync.Mutex
	n  map[string]int
}

func newCounter() *counter { return &counter{n: map[string]int{}} }

// add counts id and returns how many distinct ids were seen.
func (c *counter) add(id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n[id]++
	return len(c.n)
}

func (c *counter) get(id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[id]
}

func (c *counter) distinct() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.n)
}

func (c *counter) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := make(map[string]int, len(c.n))
	for k, v := range c.n {
		m[k] = v
	}
	return m
}
