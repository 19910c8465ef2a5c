// Command cluster runs firebreak as a real multi-process deployment on
// loopback and proves that nothing is lost or duplicated while parts of it
// die.
//
// It builds the firebreak binary once (without the race detector) and a
// small nats-server wrapper (scripts/cluster/natsnode, nats-server/v2 from
// go.mod), starts a 3-node NATS JetStream cluster as three processes,
// creates a fresh PostgreSQL database, runs `firebreak migrate`, then every
// service in app.Services as separate `firebreak serve <service>` processes
// (-replicas each, streams with 3 replicas). It applies a paging
// configuration and drives a bounded load through the HTTP API: triggers
// over -keys dedup keys in two phases, acknowledgements and resolutions
// through the API, resolve alerts from the source. Meanwhile it kill -9s one
// replica of each service in turn and starts it again, and stops one NATS
// node and brings it back. When everything has drained it checks, from the
// FB_ALERTS and FB_EVT streams, the database and the API, that every
// accepted alert was stored and counted once, that exactly the expected
// incidents exist in the expected states, that each effect (trigger,
// acknowledgement, resolution, timer-driven escalation, page) happened once,
// that a fake Slack workspace (internal/slackfake, served by the harness;
// notify and slack replicas point FIREBREAK_SLACK_API_URL at it) received
// each page once and one incident message per incident, and that the audit
// log holds every alert and event and verifies. It prints
// the figures and exits 1 on any loss or duplicate.
//
//	go run ./scripts/cluster                                   # 20 000 alerts over 60 s
//	go run ./scripts/cluster -alerts 3000 -duration 20s        # what CI runs
//	go run ./scripts/cluster -bench                            # docs/benchmarks.md "Cluster"
//
// PostgreSQL: -postgres, default $FIREBREAK_TEST_POSTGRES; the harness
// creates its own database next to the one named and drops it at the end.
// Every process listens on 127.0.0.1 only, and every child dies with the
// harness (process groups, SIGTERM then SIGKILL at exit, PDEATHSIG if the
// harness itself is killed).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/firebreak-dev/firebreak/internal/app"
)

// config is the harness's command line.
type config struct {
	alerts     int
	duration   time.Duration
	keys       int
	replicas   int
	workers    int
	ackWait    time.Duration
	ackTimeout time.Duration
	chaos      bool
	natsDown   time.Duration
	postgres   string
	timeout    time.Duration
	drain      time.Duration
	keep       bool
	bench      bool
	perKey     int
	jsonOut    bool
}

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("cluster", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&cfg.alerts, "alerts", 20000, "trigger alerts to send (half in each phase)")
	fs.DurationVar(&cfg.duration, "duration", 60*time.Second, "how long sending the alerts takes (the chaos is spread over it)")
	fs.IntVar(&cfg.keys, "keys", 200, "dedup keys (a multiple of 4: one quarter per scenario group)")
	fs.IntVar(&cfg.replicas, "replicas", 2, "replicas of every service")
	fs.IntVar(&cfg.workers, "workers", 32, "concurrent HTTP senders")
	fs.DurationVar(&cfg.ackWait, "ack-wait", 3*time.Second, "the services' --ack-wait: how late a message in flight at a kill is redelivered")
	fs.DurationVar(&cfg.ackTimeout, "ack-timeout", 2*time.Second, "acknowledgement timeout of the cl-ack service (its timer escalates every acknowledged incident once)")
	fs.BoolVar(&cfg.chaos, "chaos", true, "kill -9 one replica of each service in turn and stop one NATS node during the load")
	fs.DurationVar(&cfg.natsDown, "nats-down", 3*time.Second, "how long the stopped NATS node stays down")
	fs.StringVar(&cfg.postgres, "postgres", os.Getenv("FIREBREAK_TEST_POSTGRES"), "PostgreSQL URL; the harness creates and drops its own database beside it (default $FIREBREAK_TEST_POSTGRES)")
	fs.DurationVar(&cfg.timeout, "timeout", 30*time.Minute, "give up after this long")
	fs.DurationVar(&cfg.drain, "drain-timeout", 10*time.Minute, "how long the services may take to work off what was sent (alerts are applied one at a time per deployment: about 35/s on a busy 2-core machine)")
	fs.BoolVar(&cfg.keep, "keep", false, "keep the work directory (logs, NATS stores) even when the run passes")
	fs.BoolVar(&cfg.bench, "bench", false, "measure throughput instead: firebreak dev, then the cluster with 1 and 2 replicas, without chaos")
	fs.IntVar(&cfg.perKey, "bench-per-key", 10, "with -bench: consecutive alerts per dedup key (1: every alert opens an incident)")
	fs.BoolVar(&cfg.jsonOut, "json", false, "print the report as JSON")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	switch {
	case cfg.postgres == "":
		return cfg, errors.New("no PostgreSQL: pass -postgres or set FIREBREAK_TEST_POSTGRES")
	case cfg.keys < numGroups || cfg.keys%numGroups != 0:
		return cfg, fmt.Errorf("-keys %d: want a positive multiple of %d", cfg.keys, numGroups)
	case cfg.alerts < 2*cfg.keys:
		return cfg, fmt.Errorf("-alerts %d: want at least 2 × keys (%d), so each phase reaches every key", cfg.alerts, 2*cfg.keys)
	case cfg.replicas < 1 || cfg.workers < 1 || cfg.duration <= 0 || cfg.perKey < 1:
		return cfg, errors.New("-replicas, -workers, -duration and -bench-per-key must be positive")
	}
	return cfg, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, "cluster:", err)
		}
		return 2
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	if cfg.bench {
		if err := bench(ctx, cfg, stdout); err != nil {
			fmt.Fprintln(stderr, "cluster bench:", err)
			return 1
		}
		return 0
	}
	rep, dir, err := harness(ctx, cfg, stdout)
	if rep != nil {
		printReport(stdout, rep, cfg.jsonOut)
	}
	switch {
	case err != nil:
		printLogTails(stderr, dir)
		fmt.Fprintf(stderr, "cluster: %v\n(logs in %s)\n", err, dir)
		return 1
	case len(rep.Failures) > 0:
		printLogTails(stderr, dir)
		fmt.Fprintf(stderr, "cluster: FAIL: %d problems (logs in %s)\n", len(rep.Failures), dir)
		return 1
	}
	fmt.Fprintln(stdout, "cluster: PASS: nothing lost, nothing duplicated")
	return 0
}

// workspace builds the binaries into a new work directory.
func workspace(ctx context.Context) (dir, fb, node string, err error) {
	root, err := moduleRoot()
	if err != nil {
		return "", "", "", err
	}
	dir, err = os.MkdirTemp("", "firebreak-cluster-")
	if err != nil {
		return "", "", "", err
	}
	if fb, err = build(ctx, root, dir, "firebreak", "./cmd/firebreak"); err != nil {
		return dir, "", "", err
	}
	if node, err = build(ctx, root, dir, "natsnode", "./scripts/cluster/natsnode"); err != nil {
		return dir, "", "", err
	}
	return dir, fb, node, nil
}

// harness runs the scenario once and returns what it found. The work
// directory is removed unless the run failed or -keep was given.
func harness(ctx context.Context, cfg config, out io.Writer) (rep *report, dir string, err error) {
	dir, fb, node, err := workspace(ctx)
	defer func() {
		if err == nil && (rep == nil || len(rep.Failures) == 0) && !cfg.keep && dir != "" {
			os.RemoveAll(dir)
		}
	}()
	if err != nil {
		return nil, dir, err
	}
	pgURL, drop, err := createDatabase(ctx, cfg.postgres)
	if err != nil {
		return nil, dir, err
	}
	defer drop()
	c := newCluster(cfg, dir, fb, node, pgURL)
	// Every child ends with the harness, whether it returns or panics.
	defer c.close()
	t0 := time.Now()
	if err := c.start(ctx, cfg.replicas); err != nil {
		return nil, dir, err
	}
	logf(out, "cluster up in %s: 3 NATS nodes, %d × %d service processes (%s)", time.Since(t0).Round(time.Millisecond),
		len(app.Services), cfg.replicas, strings.Join(app.Services, ", "))
	pool, err := pgxpool.New(ctx, pgURL)
	if err != nil {
		return nil, dir, err
	}
	defer pool.Close()
	esc := c.urls("escalation")
	if len(esc) == 0 {
		return nil, dir, errors.New("app.Services has no escalation service")
	}
	l := newLoad(c.token, c.urls("intake"), c.urls("incident"), esc[0], cfg.keys, cfg.workers)
	if err := l.configure(ctx, pool, cfg.ackTimeout); err != nil {
		return nil, dir, err
	}
	rep = &report{}
	if err := scenario(ctx, c, l, pool, cfg, rep, out); err != nil {
		return rep, dir, err
	}
	logf(out, "checking")
	rep.Restarts = c.restarts.Load()
	if err := verify(ctx, c, l, pool, rep); err != nil {
		return rep, dir, err
	}
	return rep, dir, nil
}

// scenario drives the load and the chaos and waits until everything has
// settled.
func scenario(ctx context.Context, c *cluster, l *load, pool *pgxpool.Pool, cfg config, rep *report, out io.Writer) error {
	var (
		wg       sync.WaitGroup
		chaosErr error
		kills    []string
		maxRec   time.Duration
		phase2   = make(chan struct{})
	)
	// On an early return the chaos stops before the cluster is torn down.
	chaosCtx, cancelChaos := context.WithCancel(ctx)
	defer func() {
		cancelChaos()
		wg.Wait()
	}()
	if cfg.chaos {
		wg.Add(1)
		go func() {
			defer wg.Done()
			kills, maxRec, chaosErr = chaos(chaosCtx, c, cfg, phase2, out)
		}()
	}
	all := []int{groupAck, groupResolveAPI, groupResolveSource, groupOpen}
	half := cfg.alerts / 2
	t0 := time.Now()
	logf(out, "phase 1: %d triggers over %s", half, cfg.duration/2)
	l.sendPhase(ctx, 1, half, cfg.duration/2, cfg.workers, all)
	logf(out, "phase 1 sent in %s; waiting until it is processed", time.Since(t0).Round(time.Millisecond))
	if err := quiet(ctx, c.js, pool, cfg.drain, out); err != nil {
		return err
	}
	keysOf := func(g int) []int {
		var ks []int
		for k := range l.keys {
			if keyGroup(k) == g {
				ks = append(ks, k)
			}
		}
		return ks
	}
	logf(out, "acknowledging %s, resolving %s through the API and %s from the source", groupService[groupAck], groupService[groupResolveAPI], groupService[groupResolveSource])
	if err := l.act(ctx, pool, keysOf(groupAck), "acknowledge", func(s string) bool { return s == "acknowledged" || s == "escalated" }); err != nil {
		return err
	}
	if err := l.act(ctx, pool, keysOf(groupResolveAPI), "resolve", func(s string) bool { return s == "resolved" }); err != nil {
		return err
	}
	var swg sync.WaitGroup
	for _, k := range keysOf(groupResolveSource) {
		a := l.newAlert(k, "resolve", 1)
		swg.Add(1)
		go func() {
			defer swg.Done()
			l.send(ctx, a)
		}()
	}
	swg.Wait()
	if err := quiet(ctx, c.js, pool, cfg.drain, out); err != nil {
		return err
	}
	// Phase 2 must start after the resolutions, or its triggers would join
	// the incidents being resolved.
	if err := poll(ctx, time.Minute, "source resolutions applied", func() (bool, error) {
		var open int
		err := pool.QueryRow(ctx, `SELECT count(*) FROM fb_incident.incidents WHERE service = $1 AND status <> 'resolved'`,
			groupService[groupResolveSource]).Scan(&open)
		return open == 0, err
	}); err != nil {
		return err
	}
	logf(out, "phase 2: %d triggers over %s", cfg.alerts-half, cfg.duration/2)
	t2 := time.Now()
	close(phase2)
	l.sendPhase(ctx, 2, cfg.alerts-half, cfg.duration/2, cfg.workers, all)
	logf(out, "phase 2 sent in %s", time.Since(t2).Round(time.Millisecond))
	wg.Wait()
	rep.Kills, rep.MaxRecovery = kills, maxRec.Round(time.Millisecond).String()
	if chaosErr != nil {
		return fmt.Errorf("chaos: %w", chaosErr)
	}
	// The acknowledgement timeouts fire ackTimeout after the
	// acknowledgements; wait for them, then for everything they caused.
	if err := poll(ctx, 2*time.Minute, "acknowledgement timers fired", func() (bool, error) {
		var waiting int
		err := pool.QueryRow(ctx, `SELECT count(*) FROM fb_incident.incidents WHERE service = $1 AND status = 'acknowledged'`,
			groupService[groupAck]).Scan(&waiting)
		return waiting == 0, err
	}); err != nil {
		return err
	}
	logf(out, "load done in %s; waiting until everything has drained", time.Since(t0).Round(time.Millisecond))
	return quiet(ctx, c.js, pool, cfg.drain, out)
}

// chaos kill -9s one replica of each service in turn (and starts it again)
// and stops one NATS node for a while: the first half of these spread over
// phase 1, the rest over phase 2, which starts when phase2 is closed. It
// returns what it did and the longest recovery.
func chaos(ctx context.Context, c *cluster, cfg config, phase2 <-chan struct{}, out io.Writer) ([]string, time.Duration, error) {
	type step struct {
		name string
		do   func() (time.Duration, error)
	}
	var steps []step
	for i, s := range app.Services {
		r := c.replicas[s][i%len(c.replicas[s])]
		steps = append(steps, step{"kill -9 " + r.p.name, func() (time.Duration, error) { return c.killReplica(ctx, r) }})
	}
	n := c.nats[len(c.nats)-1]
	nodeStep := step{"stop " + n.p.name, func() (time.Duration, error) { return c.bounceNATS(ctx, n, cfg.natsDown) }}
	steps = append(steps[:len(steps)/2], append([]step{nodeStep}, steps[len(steps)/2:]...)...)
	first := (len(steps) + 1) / 2
	var (
		done   []string
		maxRec time.Duration
	)
	start, phaseStart, inPhase, perPhase := time.Now(), time.Now(), 0, first
	for i, s := range steps {
		if i == first {
			select {
			case <-ctx.Done():
				return done, maxRec, ctx.Err()
			case <-phase2:
			}
			phaseStart, inPhase, perPhase = time.Now(), 0, len(steps)-first
		}
		inPhase++
		gap := cfg.duration / 2 / time.Duration(perPhase+1)
		select {
		case <-ctx.Done():
			return done, maxRec, ctx.Err()
		case <-time.After(time.Until(phaseStart.Add(time.Duration(inPhase) * gap))):
		}
		rec, err := s.do()
		if err != nil {
			return done, maxRec, fmt.Errorf("%s: %w", s.name, err)
		}
		line := fmt.Sprintf("%s at %s: back after %s", s.name, time.Since(start).Round(100*time.Millisecond), rec.Round(time.Millisecond))
		logf(out, "chaos: %s", line)
		done = append(done, line)
		maxRec = max(maxRec, rec)
	}
	return done, maxRec, nil
}

func logf(w io.Writer, format string, args ...any) {
	fmt.Fprintf(w, "%s  %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

func printReport(w io.Writer, rep *report, asJSON bool) {
	if asJSON {
		b, _ := json.MarshalIndent(rep, "", "  ")
		fmt.Fprintln(w, string(b))
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k string, v any) { fmt.Fprintf(tw, "  %s\t%v\n", k, v) }
	fmt.Fprintln(tw, "figures:")
	row("alerts sent", rep.Alerts)
	row("alerts accepted (202)", rep.Accepted)
	row("alerts not accepted (gave up)", rep.Refused)
	row("alerts with an uncertain attempt (retried)", rep.Uncertain)
	row("alerts stored in FB_ALERTS", rep.Stored)
	row("  of which stored twice after a retry", rep.RetriedTwice)
	row("alerts lost (accepted, not stored)", rep.Lost)
	row("alerts duplicated", rep.Duplicates)
	row("triggers stored / Σ alert_count", fmt.Sprintf("%d / %d", rep.TriggersStored, rep.AlertCountSum))
	row("incidents / expected", fmt.Sprintf("%d / %d", rep.Incidents, rep.ExpectedIncidents))
	row("incidents duplicated / missing / wrong state", fmt.Sprintf("%d / %d / %d", rep.DupIncidents, rep.MissingIncidents, rep.WrongState))
	row("duplicate effects (events)", rep.DupEvents)
	row("ack timers fired / expected", fmt.Sprintf("%d / %d", rep.TimersFired, rep.TimersExpected))
	row("pages requested / expected", fmt.Sprintf("%d / %d", rep.Pages, rep.PagesExpected))
	row("Slack pages delivered (duplicated)", fmt.Sprintf("%d (%d)", rep.SlackPages, rep.SlackPageDups))
	row("Slack incident messages (duplicated)", fmt.Sprintf("%d (%d)", rep.SlackMessages, rep.SlackMessageDups))
	row("audit records (missing alerts+events)", fmt.Sprintf("%d (%d)", rep.AuditRecords, rep.AuditMissing))
	row("dead-lettered", rep.DeadLettered)
	row("streams with 3 replicas", rep.Streams3)
	row("max recovery after a kill", rep.MaxRecovery)
	row("replicas restarted after exiting on their own", rep.Restarts)
	tw.Flush()
	for _, k := range rep.Kills {
		fmt.Fprintf(w, "  chaos: %s\n", k)
	}
	for _, f := range rep.Failures {
		fmt.Fprintf(w, "  FAIL: %s\n", f)
	}
}

// printLogTails prints the last warnings and errors of every process log in
// dir, so that a failure on a machine whose log directory is gone (CI) still
// says what the processes complained about.
func printLogTails(w io.Writer, dir string) {
	files, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var bad []string
		for _, line := range strings.Split(string(data), "\n") {
			if strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") ||
				strings.Contains(line, "panic") || strings.Contains(line, "[ERR]") || strings.Contains(line, "[WRN]") {
				bad = append(bad, line)
			}
		}
		if len(bad) == 0 {
			continue
		}
		fmt.Fprintf(w, "--- %s: %d warnings/errors, the last ones:\n", filepath.Base(f), len(bad))
		for _, line := range bad[max(0, len(bad)-8):] {
			if len(line) > 400 {
				line = line[:400] + "…"
			}
			fmt.Fprintln(w, "   ", line)
		}
	}
}
