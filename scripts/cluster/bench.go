package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/bus"
	"github.com/firebreak-dev/firebreak/services/incident"
)

// benchResult is one deployment's figures under the same load.
type benchResult struct {
	name      string
	alerts    int
	elapsed   time.Duration // sending every alert (202s)
	processed time.Duration // until the incident service had applied every alert
	incidents int
	p50, p99  time.Duration
	failed    int
}

func (r benchResult) rate() float64 { return float64(r.alerts) / r.elapsed.Seconds() }

func (r benchResult) processedRate() float64 { return float64(r.alerts) / r.processed.Seconds() }

// bench measures end-to-end throughput, without chaos, of the same load
// against `firebreak dev` (one process, embedded NATS, SQLite), then the
// multi-process deployment with one and with two replicas per service
// (3-node NATS cluster, PostgreSQL), in one run so the ratios compare
// like with like on this machine.
func bench(ctx context.Context, cfg config, out io.Writer) error {
	dir, fb, node, err := workspace(ctx)
	if dir != "" {
		defer os.RemoveAll(dir)
	}
	if err != nil {
		return err
	}
	var results []benchResult
	r, err := benchDev(ctx, cfg, dir, fb, out)
	if err != nil {
		return fmt.Errorf("dev: %w", err)
	}
	results = append(results, r)
	for _, replicas := range []int{1, 2} {
		r, err := benchCluster(ctx, cfg, dir, fb, node, replicas, out)
		if err != nil {
			return fmt.Errorf("cluster ×%d: %w", replicas, err)
		}
		results = append(results, r)
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "deployment\talerts\taccepted/s\tratio\tprocessed/s\tratio\talert→incident p50\tp99\tincidents\tfailed\n")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%.2f\t%.0f\t%.2f\t%s\t%s\t%d\t%d\n", r.name, r.alerts, r.rate(), r.rate()/results[0].rate(),
			r.processedRate(), r.processedRate()/results[0].processedRate(),
			r.p50.Round(time.Millisecond), r.p99.Round(time.Millisecond), r.incidents, r.failed)
	}
	return tw.Flush()
}

func benchDev(ctx context.Context, cfg config, dir, fb string, out io.Writer) (benchResult, error) {
	ps, pp := &procs{}, &ports{}
	defer ps.stopAll(10 * time.Second)
	httpPort, err := pp.next()
	if err != nil {
		return benchResult{}, err
	}
	natsPort, err := pp.next()
	if err != nil {
		return benchResult{}, err
	}
	token := "fb_admin_" + randomHex(24)
	p := ps.add(&proc{
		name: "dev", bin: fb, log: filepath.Join(dir, "dev.log"),
		args: []string{"dev", "--data-dir", filepath.Join(dir, "dev-data"), "--http-addr", "127.0.0.1:" + strconv.Itoa(httpPort),
			"--nats-listen", "127.0.0.1:" + strconv.Itoa(natsPort), "--sample=false", "--log-level", "warn"},
		env: []string{"FIREBREAK_ADMIN_TOKEN=" + token},
	})
	if err := p.start(); err != nil {
		return benchResult{}, err
	}
	base := "http://127.0.0.1:" + strconv.Itoa(httpPort)
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := waitHTTP(wctx, base+"/readyz"); err != nil {
		return benchResult{}, err
	}
	logf(out, "bench: firebreak dev")
	return benchLoad(ctx, "dev (1 process, SQLite)", []string{base}, token, "nats://127.0.0.1:"+strconv.Itoa(natsPort), cfg)
}

func benchCluster(ctx context.Context, cfg config, dir, fb, node string, replicas int, out io.Writer) (benchResult, error) {
	pgURL, drop, err := createDatabase(ctx, cfg.postgres)
	if err != nil {
		return benchResult{}, err
	}
	defer drop()
	sub := filepath.Join(dir, "cluster-"+strconv.Itoa(replicas))
	if err := os.MkdirAll(sub, 0o700); err != nil {
		return benchResult{}, err
	}
	c := newCluster(cfg, sub, fb, node, pgURL)
	defer c.close()
	if err := c.start(ctx, replicas); err != nil {
		return benchResult{}, err
	}
	logf(out, "bench: cluster, %d replica(s) per service", replicas)
	name := fmt.Sprintf("cluster, %d× each service (PostgreSQL, 3 NATS)", replicas)
	return benchLoad(ctx, name, c.urls("intake"), c.token, c.natsURLs(), cfg)
}

// benchLoad sends cfg.alerts triggers from cfg.workers closed-loop
// senders, cfg.perKey in a row per dedup key so that new incidents open
// all along the run,
// and times each incident from the moment its first processed alert was
// sent to the moment its incident.triggered event (caused by that alert)
// reached a NATS subscriber.
func benchLoad(ctx context.Context, name string, intake []string, token, natsURL string, cfg config) (benchResult, error) {
	nc, err := nats.Connect(natsURL)
	if err != nil {
		return benchResult{}, err
	}
	defer nc.Close()
	var (
		mu        sync.Mutex
		triggered = map[string]time.Time{} // causing alert id -> seen
		sentAt    = map[string]time.Time{} // alert id -> send start
	)
	sub, err := nc.Subscribe("fb.evt.>", func(m *nats.Msg) {
		if m.Header.Get(bus.HeaderType) != events.TypeIncidentTriggered {
			return
		}
		now := time.Now()
		mu.Lock()
		triggered[m.Header.Get(bus.HeaderCausationID)] = now
		mu.Unlock()
	})
	if err != nil {
		return benchResult{}, err
	}
	defer sub.Unsubscribe()
	if err := nc.Flush(); err != nil {
		return benchResult{}, err
	}
	run := randomHex(3)
	keys := (cfg.alerts + cfg.perKey - 1) / cfg.perKey
	l := newLoad(token, intake, nil, "", keys, cfg.workers)
	var (
		next   atomic.Int64
		failed atomic.Int64
		wg     sync.WaitGroup
	)
	start := time.Now()
	for range cfg.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= cfg.alerts || ctx.Err() != nil {
					return
				}
				body, _ := json.Marshal(map[string]any{
					"service": "bench-" + run, "dedup_key": fmt.Sprintf("b-%06d", i/cfg.perKey), "summary": "bench", "severity": "warning",
				})
				t0 := time.Now()
				id, status, err := l.post(ctx, intake[i%len(intake)]+"/api/v1/alerts", body)
				if err != nil || status != http.StatusAccepted {
					failed.Add(1)
					continue
				}
				mu.Lock()
				sentAt[id] = t0
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	res := benchResult{name: name, alerts: cfg.alerts, elapsed: elapsed, failed: int(failed.Load())}
	js, err := jetstream.New(nc)
	if err != nil {
		return res, err
	}
	if err := poll(ctx, 5*time.Minute, name+": every alert applied", func() (bool, error) {
		mu.Lock()
		n := len(triggered)
		mu.Unlock()
		if n < keys {
			return false, nil
		}
		cons, err := js.Consumer(ctx, bus.StreamAlerts, incident.ConsumerAlerts)
		if err != nil {
			return false, err
		}
		info, err := cons.Info(ctx)
		if err != nil {
			return false, err
		}
		return info.NumPending == 0 && info.NumAckPending == 0, nil
	}); err != nil {
		return res, err
	}
	res.processed = time.Since(start)
	mu.Lock()
	defer mu.Unlock()
	var lat []time.Duration
	for cause, seen := range triggered {
		if t0, ok := sentAt[cause]; ok {
			lat = append(lat, seen.Sub(t0))
		}
	}
	slices.Sort(lat)
	res.incidents = len(triggered)
	if len(lat) > 0 {
		res.p50 = lat[len(lat)/2]
		res.p99 = lat[min(len(lat)-1, len(lat)*99/100)]
	}
	return res, nil
}
