// Command intake is the alert intake load generator (docs/benchmarks.md,
// "Intake"). Over loopback, in one run, it measures:
//
//  1. the ceiling: PagerDuty Events v2 events, one per request, against a
//     minimal Go handler (a child process) that decodes the JSON and
//     answers 202;
//
//  2. the same generator against `firebreak dev` (a child process, embedded
//     JetStream, SQLite) on POST /v2/enqueue, where 202 means stored in
//     JetStream; then the ceiling again (the machine's speed drifts), and
//     firebreak against the mean of the two;
//
//  3. POST /api/v1/alerts/batch (batches of -batch alerts) and NATS ingest
//     (producers publishing asynchronously on fb.ingest.<service>, each
//     publish acknowledged by JetStream): durable alerts/s;
//
//  4. firebreak's RSS once -memory-keys distinct dedup keys are open
//     incidents, and each 10 s for a minute once every service caught up;
//
//  5. with -alertmanager BIN, the same one-per-request generator against a
//     real Alertmanager's POST /api/v2/alerts (a child process, alerts held
//     in memory, a receiver that sends nothing), for comparison
//     (scripts/e2e/build-alertmanager.sh builds one).
//
//  6. with -intake-alone (the default), the reference for 2 and 3: the
//     intake service alone (`firebreak serve intake`, no other service)
//     against its own NATS server (a child process built from the
//     nats-server module in go.mod, JetStream file storage), so that 202
//     still means stored in JetStream but nothing downstream competes for
//     the CPU. -dev=false skips 2–4.
//
// Between phases on `firebreak dev` it waits until every consumer has
// caught up (nothing pending, nothing unacknowledged), so that no phase
// pays for the one before, and it reports how long the phase's alerts took
// to be processed by every service (its end-to-end rate).
//
// Every phase is bounded by -duration or a count. Usage:
//
//	go run ./scripts/bench/intake -duration 30s
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/firebreak-dev/firebreak/internal/client"
	"github.com/firebreak-dev/firebreak/internal/integration"
)

type options struct {
	duration    time.Duration
	concurrency int
	keys        int
	batch       int
	ingest      int
	memoryKeys  int
	firebreak   string
	alertmgr    string
	intakeAlone bool
	dev         bool
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "ceiling-serve" {
		serveCeiling()
		return
	}
	var o options
	flag.DurationVar(&o.duration, "duration", 30*time.Second, "how long each HTTP phase runs")
	flag.IntVar(&o.concurrency, "concurrency", 32, "concurrent HTTP clients")
	flag.IntVar(&o.keys, "keys", 10000, "distinct dedup keys of the one-per-request phases")
	flag.IntVar(&o.batch, "batch", 100, "alerts per request of the batch phase")
	flag.IntVar(&o.ingest, "ingest", 200000, "alerts published on fb.ingest (0 skips the phase)")
	flag.IntVar(&o.memoryKeys, "memory-keys", 100000, "distinct open dedup keys for the memory phase (0 skips it)")
	flag.StringVar(&o.firebreak, "firebreak", "", "firebreak binary (default: built from ./cmd/firebreak)")
	flag.StringVar(&o.alertmgr, "alertmanager", "", "Alertmanager binary: also load its /api/v2/alerts one alert per request (scripts/e2e/build-alertmanager.sh)")
	flag.BoolVar(&o.dev, "dev", true, "run the phases against firebreak dev (false: only the ceiling, Alertmanager and the intake alone)")
	flag.BoolVar(&o.intakeAlone, "intake-alone", true, "also measure the intake service alone (firebreak serve intake and its own NATS server), the reference for what dev's other services cost")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// serveCeiling is the baseline server: decode a PagerDuty event, answer 202.
func serveCeiling() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(ln.Addr().String())
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev struct {
			RoutingKey  string          `json:"routing_key"`
			EventAction string          `json:"event_action"`
			DedupKey    string          `json:"dedup_key"`
			Payload     json.RawMessage `json:"payload"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 512<<10)).Decode(&ev); err != nil {
			http.Error(w, `{"status":"invalid event"}`, http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		_ = json.NewEncoder(w).Encode(map[string]string{"status": "success", "message": "Event processed", "dedup_key": ev.DedupKey})
	})
	_ = http.Serve(ln, h)
}

type result struct {
	name      string
	start     time.Time
	accepted  int64
	failed    int64
	elapsed   time.Duration
	latencies []time.Duration
}

func (r result) rate() float64 { return float64(r.accepted) / r.elapsed.Seconds() }

func (r result) pct(p float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	return r.latencies[min(len(r.latencies)-1, int(float64(len(r.latencies))*p))]
}

func run(o options) error {
	dir, err := os.MkdirTemp("", "fb-bench-intake-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := o.firebreak
	if bin == "" {
		bin = filepath.Join(dir, "firebreak")
		build := exec.Command("go", "build", "-o", bin, "./cmd/firebreak")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("build firebreak: %w", err)
		}
	}
	fmt.Printf("intake benchmark: %d clients, %d keys, %s per phase (loopback; the machine is shared)\n\n", o.concurrency, o.keys, o.duration)

	// 1. The ceiling.
	self, err := os.Executable()
	if err != nil {
		return err
	}
	ceil := exec.Command(self, "ceiling-serve")
	out, err := ceil.StdoutPipe()
	if err != nil {
		return err
	}
	if err := ceil.Start(); err != nil {
		return err
	}
	defer func() { _ = ceil.Process.Kill(); _ = ceil.Wait() }()
	addr, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		return fmt.Errorf("ceiling server: %w", err)
	}
	ceilURL := "http://" + strings.TrimSpace(addr)
	ceiling := pdLoad(o, "ceiling (decode + 202)", ceilURL+"/v2/enqueue", "0123456789abcdef0123456789abcdef")
	report(ceiling, nil, ceil.Process.Pid)

	// 1b. A real Alertmanager, for comparison.
	if o.alertmgr != "" {
		am, pid, stop, err := alertmanagerLoad(o, dir)
		if err != nil {
			return err
		}
		report(am, &ceiling, pid)
		stop()
	}

	// 2–4. firebreak dev.
	if o.dev {
		again := func() result {
			r := pdLoad(o, "ceiling again (the machine's speed drifts: firebreak is compared with both)", ceilURL+"/v2/enqueue", "0123456789abcdef0123456789abcdef")
			report(r, nil, ceil.Process.Pid)
			return r
		}
		if err := devLoad(o, dir, bin, &ceiling, again); err != nil {
			return err
		}
	}

	// 6. The intake service alone.
	if o.intakeAlone {
		if err := intakeAloneLoad(context.Background(), o, dir, bin, &ceiling); err != nil {
			return fmt.Errorf("intake alone: %w", err)
		}
	}
	return nil
}

// devLoad runs phases 2–4 against `firebreak dev` (a child process).
func devLoad(o options, dir, bin string, ceiling *result, again func() result) error {
	data := filepath.Join(dir, "data")
	fb := exec.Command(bin, "dev", "--data-dir", data, "--http-addr", "127.0.0.1:0", "--nats-listen", "127.0.0.1:0",
		"--sample=false", "--log-level", "error", "--pd-rate-limit", "1e9", "--pd-rate-burst", "1000000000")
	fb.Stdout, fb.Stderr = io.Discard, os.Stderr
	if err := fb.Start(); err != nil {
		return err
	}
	defer func() { _ = fb.Process.Signal(os.Interrupt); _ = fb.Wait() }()
	info, err := waitDev(filepath.Join(data, "dev.json"), 60*time.Second)
	if err != nil {
		return err
	}
	tok, err := os.ReadFile(info.TokenFile)
	if err != nil {
		return err
	}
	token := strings.TrimSpace(string(tok))
	admin := client.New(info.HTTPURL, token, "bench")
	ctx := context.Background()
	in, err := admin.CreateIntegration(ctx, integration.Spec{Service: "bench-pd", Type: integration.TypeEventsV2, Name: "bench"})
	if err != nil {
		return fmt.Errorf("create integration: %w", err)
	}
	nc, err := nats.Connect(info.NATSURL)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(1<<14))
	if err != nil {
		return err
	}
	if err := settle(ctx, js); err != nil {
		return err
	}
	pd := pdLoad(o, "firebreak dev /v2/enqueue", info.HTTPURL+"/v2/enqueue", in.Key)
	report(pd, ceiling, fb.Process.Pid)
	if err := reportDrain(ctx, js, pd); err != nil {
		return err
	}
	c2 := again()
	fmt.Printf("  firebreak dev one per request: %.0f %% of the mean of the two ceilings (%.0f/s)\n\n", 200*pd.rate()/(ceiling.rate()+c2.rate()), (ceiling.rate()+c2.rate())/2)

	// 3a. Batches.
	b := batchLoad(o, info.HTTPURL, token, "bench-batch", o.keys, o.duration)
	report(b, nil, fb.Process.Pid)
	if err := reportDrain(ctx, js, b); err != nil {
		return err
	}

	// 3b. NATS ingest.
	if o.ingest > 0 {
		r, drain, err := ingestLoad(ctx, js, o.ingest, o.keys)
		if err != nil {
			return err
		}
		report(r, nil, fb.Process.Pid)
		fmt.Printf("  intake re-published all %d on FB_ALERTS after %s (%.0f alerts/s)\n", o.ingest, drain.Round(time.Millisecond), float64(o.ingest)/drain.Seconds())
		if err := reportDrain(ctx, js, r); err != nil {
			return err
		}
	}

	// 4. Memory with many open dedup keys.
	if o.memoryKeys > 0 {
		if err := memoryLoad(ctx, o, js, info.HTTPURL, token, fb.Process.Pid); err != nil {
			return err
		}
	}
	return nil
}

// settle waits until every consumer of every stream has caught up: nothing
// pending and nothing unacknowledged, three polls in a row.
func settle(ctx context.Context, js jetstream.JetStream) error {
	deadline := time.Now().Add(15 * time.Minute)
	calm := 0
	for calm < 3 {
		if time.Now().After(deadline) {
			return errors.New("consumers did not catch up within 15 minutes")
		}
		busy, err := busyness(ctx, js)
		if err != nil {
			return err
		}
		if busy {
			calm = 0
		} else {
			calm++
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil
}

func busyness(ctx context.Context, js jetstream.JetStream) (bool, error) {
	for name := range js.StreamNames(ctx).Name() {
		st, err := js.Stream(ctx, name)
		if err != nil {
			return false, err
		}
		lister := st.ListConsumers(ctx)
		for info := range lister.Info() {
			if info.NumPending > 0 || info.NumAckPending > 0 {
				return true, nil
			}
		}
		if err := lister.Err(); err != nil {
			return false, err
		}
	}
	return false, nil
}

// reportDrain waits until every service has processed the alerts of phase
// r (settle) and reports how long that took from the phase's start.
func reportDrain(ctx context.Context, js jetstream.JetStream, r result) error {
	if err := settle(ctx, js); err != nil {
		return err
	}
	took := time.Since(r.start)
	fmt.Printf("  every service had processed them %s after the phase began: %.0f alerts/s end to end\n\n", took.Round(100*time.Millisecond), float64(r.accepted)/took.Seconds())
	return nil
}

// intakeAloneLoad runs the one-per-request and batch phases against the
// intake service alone: `firebreak serve intake` and a NATS server of its
// own (child processes).
func intakeAloneLoad(ctx context.Context, o options, dir, bin string, ceiling *result) error {
	natsBin := filepath.Join(dir, "nats-server")
	build := exec.Command("go", "build", "-o", natsBin, "github.com/nats-io/nats-server/v2")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("build nats-server: %w", err)
	}
	natsAddr, err := freeAddr()
	if err != nil {
		return err
	}
	host, port, _ := net.SplitHostPort(natsAddr)
	ns := exec.Command(natsBin, "-js", "-sd", filepath.Join(dir, "alone-nats"), "-a", host, "-p", port)
	ns.Stdout, ns.Stderr = io.Discard, io.Discard
	if err := ns.Start(); err != nil {
		return err
	}
	defer func() { _ = ns.Process.Signal(os.Interrupt); _ = ns.Wait() }()
	httpAddr, err := freeAddr()
	if err != nil {
		return err
	}
	const token = "fb_bench_intake_alone_admin_token_0123456789"
	in := exec.Command(bin, "serve", "intake", "--nats-url", "nats://"+natsAddr, "--http-addr", httpAddr,
		"--admin-token", token, "--log-level", "error", "--pd-rate-limit", "1e9", "--pd-rate-burst", "1000000000")
	in.Stdout, in.Stderr = io.Discard, os.Stderr
	if err := in.Start(); err != nil {
		return err
	}
	defer func() { _ = in.Process.Signal(os.Interrupt); _ = in.Wait() }()
	base := "http://" + httpAddr
	if err := waitReady(base+"/readyz", 60*time.Second); err != nil {
		return err
	}
	admin := client.New(base, token, "bench")
	it, err := admin.CreateIntegration(ctx, integration.Spec{Service: "bench-pd", Type: integration.TypeEventsV2, Name: "bench"})
	if err != nil {
		return fmt.Errorf("create integration: %w", err)
	}
	pd := pdLoad(o, "intake alone (serve intake + its NATS server) /v2/enqueue", base+"/v2/enqueue", it.Key)
	report(pd, ceiling, in.Process.Pid)
	b := batchLoad(o, base, token, "bench-batch", o.keys, o.duration)
	b.name = "intake alone /api/v1/alerts/batch (100 per request)"
	report(b, nil, in.Process.Pid)
	return nil
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func waitReady(url string, limit time.Duration) error {
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
	return fmt.Errorf("%s did not answer 200 within %s", url, limit)
}

type devInfo struct {
	HTTPURL   string `json:"http_url"`
	NATSURL   string `json:"nats_url"`
	TokenFile string `json:"token_file"`
}

func waitDev(path string, limit time.Duration) (devInfo, error) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		var d devInfo
		if b, err := os.ReadFile(path); err == nil && json.Unmarshal(b, &d) == nil && d.HTTPURL != "" {
			if resp, err := http.Get(d.HTTPURL + "/readyz"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return d, nil
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return devInfo{}, errors.New("firebreak dev did not become ready")
}

func httpClient(n int) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConns: n, MaxIdleConnsPerHost: n, MaxConnsPerHost: n}}
}

// pdLoad posts PagerDuty Events v2 triggers, one per request, from
// o.concurrency clients for o.duration.
func pdLoad(o options, name, url, key string) result {
	hc := httpClient(o.concurrency)
	return load(o.concurrency, o.duration, name, func(rng *rand.Rand) bool {
		k := rng.IntN(o.keys)
		body := fmt.Sprintf(`{"routing_key":%q,"event_action":"trigger","dedup_key":"bench-%d","payload":{"summary":"bench alert %d","source":"bench-host-%d","severity":"critical","custom_details":{"n":%d}}}`,
			key, k, k, k%100, k)
		resp, err := hc.Post(url, "application/json", strings.NewReader(body))
		if err != nil {
			return false
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusAccepted
	})
}

// batchLoad posts batches of o.batch generic alerts for d.
func batchLoad(o options, base, token, service string, keys int, d time.Duration) result {
	hc := httpClient(o.concurrency)
	r := load(o.concurrency, d, fmt.Sprintf("firebreak dev /api/v1/alerts/batch (%d per request)", o.batch), func(rng *rand.Rand) bool {
		var b bytes.Buffer
		b.WriteString(`{"alerts":[`)
		for i := range o.batch {
			if i > 0 {
				b.WriteByte(',')
			}
			k := rng.IntN(keys)
			fmt.Fprintf(&b, `{"service":%q,"dedup_key":"b-%d","summary":"bench alert %d","severity":"warning"}`, service, k, k)
		}
		b.WriteString(`]}`)
		req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/alerts/batch", &b)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			return false
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusAccepted
	})
	r.accepted *= int64(o.batch)
	r.failed *= int64(o.batch)
	return r
}

// load runs f from n goroutines for d and collects the outcome.
func load(n int, d time.Duration, name string, f func(*rand.Rand) bool) result {
	var ok, bad atomic.Int64
	lat := make([][]time.Duration, n)
	stop := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for w := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 42))
			for time.Now().Before(stop) {
				t := time.Now()
				if f(rng) {
					ok.Add(1)
					lat[w] = append(lat[w], time.Since(t))
				} else {
					bad.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	r := result{name: name, start: start, accepted: ok.Load(), failed: bad.Load(), elapsed: time.Since(start)}
	for _, l := range lat {
		r.latencies = append(r.latencies, l...)
	}
	slices.Sort(r.latencies)
	return r
}

// ingestLoad publishes n alerts asynchronously on fb.ingest.bench-ingest
// and waits for every JetStream acknowledgement; then it waits until the
// intake consumer has re-published them all on FB_ALERTS.
func ingestLoad(ctx context.Context, js jetstream.JetStream, n, keys int) (result, time.Duration, error) {
	alerts, err := js.Stream(ctx, "FB_ALERTS")
	if err != nil {
		return result{}, 0, err
	}
	before, err := alerts.Info(ctx)
	if err != nil {
		return result{}, 0, err
	}
	start := time.Now()
	// Producers keep up to window publishes in flight, as a client with
	// PublishAsyncMaxPending would: a sliding window, each acknowledgement
	// making room for the next publish (not a window sent and then waited
	// for as a whole).
	const window = 8192
	inflight := make(chan jetstream.PubAckFuture, window)
	var failed int64
	collected := make(chan struct{})
	go func() {
		defer close(collected)
		for f := range inflight {
			select {
			case <-f.Ok():
			case <-f.Err():
				failed++
			}
		}
	}()
	for i := range n {
		k := i % keys
		data := fmt.Sprintf(`{"dedup_key":"i-%d","summary":"ingest alert %d","severity":"warning"}`, k, k)
		f, err := js.PublishAsync("fb.ingest.bench-ingest", []byte(data), jetstream.WithMsgID("bench-ingest-"+strconv.Itoa(i)))
		if err != nil {
			close(inflight)
			<-collected
			return result{}, 0, err
		}
		inflight <- f
	}
	close(inflight)
	<-collected
	r := result{name: "NATS ingest fb.ingest.<service> (async publish, JetStream ack)", start: start, accepted: int64(n) - failed, failed: failed, elapsed: time.Since(start)}
	deadline := time.Now().Add(10 * time.Minute)
	for time.Now().Before(deadline) {
		info, err := alerts.Info(ctx)
		if err == nil && info.State.Msgs >= before.State.Msgs+uint64(n) {
			return r, time.Since(start), nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return r, 0, errors.New("intake did not re-publish the ingested alerts within 10 minutes")
}

// memoryLoad opens o.memoryKeys incidents with distinct dedup keys and
// reports firebreak's RSS once all are open.
func memoryLoad(ctx context.Context, o options, js jetstream.JetStream, base, token string, pid int) error {
	evt, err := js.Stream(ctx, "FB_EVT")
	if err != nil {
		return err
	}
	triggered := func() uint64 {
		info, err := evt.Info(ctx, jetstream.WithSubjectFilter("fb.evt.incident.triggered"))
		if err != nil {
			return 0
		}
		return info.State.Subjects["fb.evt.incident.triggered"]
	}
	if err := settle(ctx, js); err != nil { // let earlier phases finish first
		return err
	}
	before := triggered()
	hc := httpClient(o.concurrency)
	hc.Timeout = 5 * time.Minute
	start := time.Now()
	const per = 1000
	var wg sync.WaitGroup
	next := atomic.Int64{}
	var failures atomic.Int64
	for range o.concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				from := int(next.Add(per)) - per
				if from >= o.memoryKeys {
					return
				}
				var b bytes.Buffer
				b.WriteString(`{"alerts":[`)
				for i := from; i < min(from+per, o.memoryKeys); i++ {
					if i > from {
						b.WriteByte(',')
					}
					fmt.Fprintf(&b, `{"service":"bench-mem","dedup_key":"m-%d","summary":"open alert %d","severity":"info"}`, i, i)
				}
				b.WriteString(`]}`)
				body := b.Bytes()
				for attempt := 1; ; attempt++ { // resend on failure: a resend only adds repeats to open incidents
					req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/alerts/batch", bytes.NewReader(body))
					req.Header.Set("Authorization", "Bearer "+token)
					resp, err := hc.Do(req)
					ok := err == nil && resp.StatusCode == http.StatusAccepted
					if resp != nil {
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
					}
					if ok {
						break
					}
					if attempt == 5 {
						failures.Add(1)
						break
					}
				}
			}
		}()
	}
	wg.Wait()
	if failures.Load() > 0 {
		return fmt.Errorf("memory phase: %d batches refused", failures.Load())
	}
	accepted := time.Since(start)
	deadline := time.Now().Add(15 * time.Minute)
	for triggered() < before+uint64(o.memoryKeys) {
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d incidents opened", triggered()-before, o.memoryKeys)
		}
		time.Sleep(500 * time.Millisecond)
	}
	opened := time.Since(start)
	cur, peak := rss(pid)
	fmt.Printf("memory: %d distinct dedup keys open (accepted in %s, all incidents opened after %s, %.0f incidents/s)\n  firebreak RSS %s (peak %s) as the last incident opened\n",
		o.memoryKeys, accepted.Round(time.Millisecond), opened.Round(time.Millisecond), float64(o.memoryKeys)/opened.Seconds(), mb(cur), mb(peak))
	// Then what holding them costs: once every service has caught up, the
	// RSS each 10 s for a minute (the storm's buffers are let go by then:
	// JetStream's block caches and Go's free heap pages).
	if err := settle(ctx, js); err != nil {
		return err
	}
	fmt.Print("  then, every service caught up, each 10 s:")
	for range 6 {
		time.Sleep(10 * time.Second)
		cur, _ := rss(pid)
		fmt.Printf(" %s", mb(cur))
	}
	fmt.Println()
	return nil
}

func report(r result, base *result, pid int) {
	mem, peak := rss(pid)
	fmt.Printf("%s\n  accepted %d (%d refused or failed) in %s: %.0f/s", r.name, r.accepted, r.failed, r.elapsed.Round(time.Millisecond), r.rate())
	if base != nil && base.rate() > 0 {
		fmt.Printf(" = %.0f %% of the ceiling", 100*r.rate()/base.rate())
	}
	fmt.Printf("\n  latency p50 %s, p99 %s; server RSS %s (peak %s)\n\n", r.pct(0.50).Round(time.Microsecond), r.pct(0.99).Round(time.Microsecond), mb(mem), mb(peak))
}

// rss returns a process's resident set size and its peak, in bytes.
func rss(pid int) (cur, peak int64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		v, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			cur = v * 1024
		case "VmHWM:":
			peak = v * 1024
		}
	}
	return cur, peak
}

func mb(b int64) string { return fmt.Sprintf("%.0f MB", float64(b)/(1<<20)) }

// alertmanagerLoad starts the Alertmanager binary o.alertmgr with a
// receiver that sends nothing and posts one alert per request to its
// /api/v2/alerts (200 means held in memory) from o.concurrency clients.
// It returns the outcome, the process (for its RSS) and how to stop it.
func alertmanagerLoad(o options, dir string) (result, int, func(), error) {
	addr, err := freeAddr()
	if err != nil {
		return result{}, 0, nil, err
	}
	conf := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(conf, []byte("route:\n  receiver: none\nreceivers:\n  - name: none\n"), 0o600); err != nil {
		return result{}, 0, nil, err
	}
	cmd := exec.Command(o.alertmgr, "--config.file", conf, "--storage.path", filepath.Join(dir, "am-data"),
		"--web.listen-address", addr, "--cluster.listen-address=", "--log.level", "error")
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	if err := cmd.Start(); err != nil {
		return result{}, 0, nil, err
	}
	stop := func() { _ = cmd.Process.Signal(os.Interrupt); _ = cmd.Wait() }
	base := "http://" + addr
	if err := waitReady(base+"/-/ready", 30*time.Second); err != nil {
		stop()
		return result{}, 0, nil, err
	}
	hc := httpClient(o.concurrency)
	r := load(o.concurrency, o.duration, "Alertmanager /api/v2/alerts", func(rng *rand.Rand) bool {
		k := rng.IntN(o.keys)
		body := fmt.Sprintf(`[{"labels":{"alertname":"bench","instance":"bench-host-%d","key":"bench-%d","severity":"critical"},"annotations":{"summary":"bench alert %d"}}]`, k%100, k, k)
		resp, err := hc.Post(base+"/api/v2/alerts", "application/json", strings.NewReader(body))
		if err != nil {
			return false
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return r, cmd.Process.Pid, stop, nil
}
