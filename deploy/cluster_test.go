package deploy_test

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/firebreak-dev/firebreak/internal/bus"
)

// TestNATSClusterHoldsReplicatedStreams starts the three nodes from their
// own config files, as docker-compose.yml runs them (only the addresses are
// moved to free localhost ports and the store to a temporary directory),
// and has firebreak create its streams with the compose file's replica
// count: every stream must get a leader and a copy on each other node.
func TestNATSClusterHoldsReplicatedStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node JetStream cluster")
	}
	c := loadCompose(t)
	nodes := loadNATS(t, c)
	if len(nodes) != 3 {
		t.Fatalf("want 3 NATS nodes, have %d", len(nodes))
	}
	replicas := 0
	for _, ctr := range serveContainers(t, c) {
		replicas, _ = strconv.Atoi(c.Services[ctr].Environment["FIREBREAK_STREAM_REPLICAS"])
	}
	if replicas < 1 {
		t.Fatal("no FIREBREAK_STREAM_REPLICAS on any service container")
	}

	// Each node's cluster address, by container name (the route host).
	clusterAddr := map[string]string{}
	for _, n := range nodes {
		clusterAddr[n.container] = freeAddr(t)
	}
	var servers []*server.Server
	for _, n := range nodes {
		o := n.opts.Clone()
		o.Host, o.Port = "127.0.0.1", -1
		o.HTTPHost, o.HTTPPort = "", 0
		o.StoreDir = t.TempDir()
		host, port, _ := net.SplitHostPort(clusterAddr[n.container])
		o.Cluster.Host = host
		o.Cluster.Port, _ = strconv.Atoi(port)
		o.Routes = nil
		for _, r := range n.opts.Routes {
			addr, ok := clusterAddr[r.Hostname()]
			if !ok {
				t.Fatalf("%s: route to %s, which is no node", n.path, r.Host)
			}
			o.Routes = append(o.Routes, &url.URL{Scheme: r.Scheme, Host: addr})
		}
		o.NoSigs, o.NoLog = true, true
		s, err := server.NewServer(o)
		if err != nil {
			t.Fatalf("%s: %v", n.path, err)
		}
		go s.Start()
		t.Cleanup(s.Shutdown)
		if !s.ReadyForConnections(10 * time.Second) {
			t.Fatalf("%s: not ready", n.container)
		}
		servers = append(servers, s)
	}

	nc, err := nats.Connect(servers[0].ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// The cluster elects a meta leader first; until then stream creation
	// fails, as it does for a service started too early (which restarts).
	for {
		attempt, cancelAttempt := context.WithTimeout(ctx, 2*time.Second)
		err = bus.EnsureStreams(attempt, js, replicas)
		cancelAttempt()
		if err == nil {
			break
		}
		select {
		case <-ctx.Done():
			var routes []string
			for _, s := range servers {
				routes = append(routes, fmt.Sprintf("%s: %d routes", s.Name(), s.NumRoutes()))
			}
			t.Fatalf("create the streams with %d replicas: %v (%s)", replicas, err, strings.Join(routes, ", "))
		case <-time.After(250 * time.Millisecond):
		}
	}
	for _, cfg := range bus.StreamConfigs(replicas) {
		var info *jetstream.StreamInfo
		for {
			st, err := js.Stream(ctx, cfg.Name)
			if err == nil {
				info, err = st.Info(ctx)
			}
			if err == nil && info.Cluster != nil && info.Cluster.Leader != "" && len(info.Cluster.Replicas) == replicas-1 {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("stream %s: no leader with %d followers: %v %s", cfg.Name, replicas-1, err, describe(info))
			}
			time.Sleep(100 * time.Millisecond)
		}
		if info.Config.Replicas != replicas {
			t.Errorf("stream %s: %d replicas, want %d", cfg.Name, info.Config.Replicas, replicas)
		}
	}
	if _, err := js.Publish(ctx, "fb.evt.incident.test", []byte("{}")); err != nil {
		t.Fatalf("publish to the replicated FB_EVT: %v", err)
	}
}

func describe(info *jetstream.StreamInfo) string {
	if info == nil || info.Cluster == nil {
		return "(no cluster info)"
	}
	var peers []string
	for _, r := range info.Cluster.Replicas {
		peers = append(peers, fmt.Sprintf("%s current=%v", r.Name, r.Current))
	}
	return fmt.Sprintf("leader %q, replicas [%s]", info.Cluster.Leader, strings.Join(peers, ", "))
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
