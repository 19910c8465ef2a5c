package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/firebreak-dev/firebreak/internal/app"
	"github.com/firebreak-dev/firebreak/internal/bus"
	"github.com/firebreak-dev/firebreak/internal/slackfake"
	"github.com/firebreak-dev/firebreak/services/audit"
	"github.com/firebreak-dev/firebreak/services/notify"
	"github.com/firebreak-dev/firebreak/services/slack"
)

// natsNode is one nats-server process of the cluster.
type natsNode struct {
	p              *proc
	client, routes int
}

func (n *natsNode) url() string { return "nats://127.0.0.1:" + strconv.Itoa(n.client) }

// replica is one `firebreak serve <service>` process.
type replica struct {
	service string
	index   int
	port    int
	p       *proc
}

func (r *replica) url() string { return "http://127.0.0.1:" + strconv.Itoa(r.port) }

// cluster is everything the harness started: the NATS nodes, the database,
// the service replicas.
type cluster struct {
	cfg   config
	dir   string
	fb    string // the firebreak binary
	node  string // the natsnode binary
	ps    *procs
	ports *ports

	nats     []*natsNode
	pgURL    string // the harness's own fresh database
	token    string
	auditKey string
	replicas map[string][]*replica
	// slack is the fake Slack workspace the notify and slack replicas talk
	// to: pages land in #harness-pages, incident messages in #incidents.
	slack *slackfake.Server

	nc *nats.Conn
	js jetstream.JetStream

	// restarts counts replicas started again after exiting on their own.
	restarts atomic.Int64
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// createDatabase creates a fresh database next to the one adminURL names
// and returns its URL and a function that drops it.
func createDatabase(ctx context.Context, adminURL string) (string, func(), error) {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return "", nil, fmt.Errorf("connect PostgreSQL: %w", err)
	}
	defer conn.Close(ctx)
	name := "fbcluster_" + randomHex(6)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", nil, fmt.Errorf("create database %s: %w", name, err)
	}
	u, err := url.Parse(adminURL)
	if err != nil {
		return "", nil, err
	}
	u.Path = "/" + name
	drop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, adminURL)
		if err != nil {
			return
		}
		defer conn.Close(ctx)
		_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	}
	return u.String(), drop, nil
}

// startNATS starts three nodes routed to each other and waits until
// JetStream takes stream configurations with 3 replicas.
func (c *cluster) startNATS(ctx context.Context) error {
	for range 3 {
		cp, err := c.ports.next()
		if err != nil {
			return err
		}
		rp, err := c.ports.next()
		if err != nil {
			return err
		}
		c.nats = append(c.nats, &natsNode{client: cp, routes: rp})
	}
	for i, n := range c.nats {
		var routes []string
		for j, m := range c.nats {
			if j != i {
				routes = append(routes, "nats-route://127.0.0.1:"+strconv.Itoa(m.routes))
			}
		}
		name := fmt.Sprintf("n%d", i+1)
		n.p = c.ps.add(&proc{
			name: "nats-" + name, bin: c.node, log: filepath.Join(c.dir, "nats-"+name+".log"),
			args: []string{"-name", name, "-listen", "127.0.0.1:" + strconv.Itoa(n.client),
				"-cluster", "127.0.0.1:" + strconv.Itoa(n.routes), "-routes", strings.Join(routes, ","),
				"-store", filepath.Join(c.dir, "nats-"+name)},
		})
		if err := n.p.start(); err != nil {
			return err
		}
	}
	for _, n := range c.nats {
		if err := waitTCP(ctx, n); err != nil {
			return err
		}
	}
	nc, err := nats.Connect(c.natsURLs(), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		return err
	}
	c.nc = nc
	if c.js, err = jetstream.New(nc); err != nil {
		return err
	}
	// Until the cluster has a meta leader, stream creation fails.
	deadline, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		attempt, cancelAttempt := context.WithTimeout(deadline, 3*time.Second)
		err = bus.EnsureStreams(attempt, c.js, 3)
		cancelAttempt()
		if err == nil {
			return nil
		}
		select {
		case <-deadline.Done():
			return fmt.Errorf("NATS cluster: streams with 3 replicas not created: %w (logs in %s)", err, c.dir)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (c *cluster) natsURLs() string {
	var urls []string
	for _, n := range c.nats {
		urls = append(urls, n.url())
	}
	return strings.Join(urls, ",")
}

// waitTCP waits until a node accepts client connections.
func waitTCP(ctx context.Context, n *natsNode) error {
	deadline, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(n.client), time.Second)
		if err == nil {
			conn.Close()
			return nil
		}
		if !n.p.running() {
			return fmt.Errorf("%s exited (see %s)", n.p.name, n.p.log)
		}
		select {
		case <-deadline.Done():
			return fmt.Errorf("%s: not accepting clients: %w", n.p.name, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// migrate runs `firebreak migrate` once, as the compose file's migrate
// container does, so replicas starting together do not race on it.
func (c *cluster) migrate(ctx context.Context) error {
	cmd := exec.CommandContext(ctx, c.fb, "migrate", "--postgres", c.pgURL)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("firebreak migrate: %v\n%s", err, b)
	}
	return nil
}

// serveArgs is the command line of one replica of service. Every service
// in app.Services gets the same flags; a service that needs more (a Slack
// API URL, say) gets it from serviceEnv.
func (c *cluster) serveArgs(service string, port int) []string {
	args := []string{"serve", service,
		"--nats-url", c.natsURLs(),
		"--http-addr", "127.0.0.1:" + strconv.Itoa(port),
		"--stream-replicas", "3",
		"--ack-wait", c.cfg.ackWait.String(),
		"--log-level", "warn",
	}
	if app.HasDatabase(service) {
		args = append(args, "--postgres", c.pgURL)
	}
	if service == "incident" {
		args = append(args, "--auto-create-services")
	}
	return args
}

// serviceEnv is the environment of every replica: the admin token (the
// environment, as in the compose file, not the command line) and the
// secrets some services read.
func (c *cluster) serviceEnv(service string) []string {
	env := []string{"FIREBREAK_ADMIN_TOKEN=" + c.token}
	switch service {
	case audit.Name:
		env = append(env, "FIREBREAK_AUDIT_SIGNING_KEY="+c.auditKey)
	case notify.Name, slack.Name:
		env = append(env, "FIREBREAK_SLACK_BOT_TOKEN="+c.slack.Token, "FIREBREAK_SLACK_API_URL="+c.slack.APIURL,
			"FIREBREAK_SLACK_SIGNING_SECRET="+c.token+"-slack", "FIREBREAK_SLACK_CHANNEL="+slackIncidents)
	}
	return env
}

// startServices starts replicas of every service in app.Services and waits
// until each is ready.
func (c *cluster) startServices(ctx context.Context, services []string, replicas int) error {
	c.replicas = map[string][]*replica{}
	for _, s := range services {
		for i := range replicas {
			port, err := c.ports.next()
			if err != nil {
				return err
			}
			name := fmt.Sprintf("%s-%d", s, i+1)
			r := &replica{service: s, index: i, port: port}
			r.p = c.ps.add(&proc{
				name: name, bin: c.fb, args: c.serveArgs(s, port), env: c.serviceEnv(s),
				log: filepath.Join(c.dir, name+".log"),
			})
			if err := r.p.start(); err != nil {
				return err
			}
			c.replicas[s] = append(c.replicas[s], r)
		}
	}
	for _, s := range services {
		for _, r := range c.replicas[s] {
			if err := c.waitReady(ctx, r); err != nil {
				return err
			}
		}
	}
	return nil
}

// waitReady waits until a replica answers /readyz. A replica that exits
// before it is ready (e.g. a JetStream request timing out while the cluster
// elects a leader) is started again, up to 5 times, as the restart policy
// of Compose or Kubernetes would; c.restarts counts these.
func (c *cluster) waitReady(ctx context.Context, r *replica) error {
	deadline, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	for attempt := 0; ; attempt++ {
		err := c.waitReadyOnce(deadline, r)
		if !errors.Is(err, errExited) || attempt == 5 {
			return err
		}
		c.restarts.Add(1)
		select {
		case <-deadline.Done():
			return err
		case <-time.After(500 * time.Millisecond):
		}
		if err := r.p.start(); err != nil {
			return err
		}
	}
}

var errExited = errors.New("exited before it was ready")

func (c *cluster) waitReadyOnce(ctx context.Context, r *replica) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- waitHTTP(ctx, r.url()+"/readyz") }()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			if err != nil {
				return fmt.Errorf("%s not ready: %w (see %s)", r.p.name, err, r.p.log)
			}
			return nil
		case <-tick.C:
			if !r.p.running() {
				return fmt.Errorf("%s %w (see %s)", r.p.name, errExited, r.p.log)
			}
		}
	}
}

// newCluster builds the binaries and prepares the database and secrets;
// start brings everything up.
func newCluster(cfg config, dir, fb, node, pgURL string) *cluster {
	seed := make([]byte, 32)
	_, _ = rand.Read(seed)
	fake := slackfake.Start(slackfake.Config{})
	fake.AddChannel(strings.TrimPrefix(slackIncidents, "#"))
	fake.AddChannel(strings.TrimPrefix(slackPages, "#"))
	return &cluster{
		cfg: cfg, dir: dir, fb: fb, node: node, ps: &procs{}, ports: &ports{},
		pgURL: pgURL, token: "fb_admin_" + randomHex(24), auditKey: base64.StdEncoding.EncodeToString(seed),
		slack: fake,
	}
}

// The fake Slack's channels: the slack service's incident messages and the
// escalation policy's page target.
const (
	slackIncidents = "#incidents"
	slackPages     = "#harness-pages"
)

func (c *cluster) start(ctx context.Context, replicas int) error {
	if err := c.startNATS(ctx); err != nil {
		return err
	}
	if err := c.migrate(ctx); err != nil {
		return err
	}
	return c.startServices(ctx, app.Services, replicas)
}

// close stops every process and the harness's NATS connection.
func (c *cluster) close() {
	if c.nc != nil {
		c.nc.Close()
	}
	c.ps.stopAll(10 * time.Second)
	if c.slack != nil {
		c.slack.Close()
	}
}

// killReplica kill -9s a replica, starts it again at once on the same port
// and returns how long it took until it was ready again.
func (c *cluster) killReplica(ctx context.Context, r *replica) (time.Duration, error) {
	t0 := time.Now()
	r.p.signal(syscall.SIGKILL, 10*time.Second)
	if err := r.p.start(); err != nil {
		return 0, err
	}
	if err := c.waitReady(ctx, r); err != nil {
		return 0, err
	}
	return time.Since(t0), nil
}

// bounceNATS stops a node (SIGTERM), keeps it down for down, starts it on
// its old ports and store, and returns how long it took until the node
// served JetStream requests again.
func (c *cluster) bounceNATS(ctx context.Context, n *natsNode, down time.Duration) (time.Duration, error) {
	t0 := time.Now()
	n.p.signal(syscall.SIGTERM, 10*time.Second)
	select {
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-time.After(down):
	}
	if err := n.p.start(); err != nil {
		return 0, err
	}
	if err := waitTCP(ctx, n); err != nil {
		return 0, err
	}
	nc, err := nats.Connect(n.url(), nats.Timeout(2*time.Second))
	if err != nil {
		return 0, fmt.Errorf("connect %s: %w", n.p.name, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return 0, err
	}
	deadline, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		attempt, cancelAttempt := context.WithTimeout(deadline, 2*time.Second)
		_, err := js.Stream(attempt, bus.StreamAlerts)
		cancelAttempt()
		if err == nil {
			return time.Since(t0), nil
		}
		select {
		case <-deadline.Done():
			return 0, errors.Join(fmt.Errorf("%s: JetStream not back", n.p.name), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
