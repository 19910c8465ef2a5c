// Command natsnode runs one node of a NATS JetStream cluster: nats-server
// from the module's pinned github.com/nats-io/nats-server/v2, embedded
// through internal/bus, so the cluster harness (scripts/cluster) can run
// three of them as separate processes and kill or stop one.
//
//	natsnode -name n1 -listen 127.0.0.1:4301 -cluster 127.0.0.1:6301 \
//	    -routes nats-route://127.0.0.1:6302,nats-route://127.0.0.1:6303 -store /tmp/n1
//
// It prints "ready <client URL>" on stdout once it accepts clients, and
// shuts down cleanly on SIGINT or SIGTERM.
package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/firebreak-dev/firebreak/internal/bus"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("natsnode", flag.ContinueOnError)
	fs.SetOutput(stderr)
	name := fs.String("name", "", "server name, unique in the cluster (required)")
	listen := fs.String("listen", "127.0.0.1:4222", "client address")
	cluster := fs.String("cluster", "", "cluster (route) address")
	clusterName := fs.String("cluster-name", "firebreak", "cluster name")
	routes := fs.String("routes", "", "comma-separated nats-route:// URLs of the other nodes")
	store := fs.String("store", "", "JetStream store directory (required)")
	verbose := fs.Bool("v", false, "log the server's notices")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *name == "" || *store == "" {
		fmt.Fprintln(stderr, "natsnode: -name and -store are required")
		return 2
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	cfg := bus.EmbeddedConfig{
		StoreDir: *store, Listen: *listen, ServerName: *name,
		Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})),
	}
	if *cluster != "" {
		cfg.ClusterName, cfg.ClusterListen = *clusterName, *cluster
		for _, r := range strings.Split(*routes, ",") {
			if r = strings.TrimSpace(r); r != "" {
				cfg.Routes = append(cfg.Routes, r)
			}
		}
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	e, err := bus.StartEmbedded(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "natsnode %s: %v\n", *name, err)
		return 1
	}
	fmt.Fprintf(stdout, "ready %s\n", e.URL)
	<-sig
	e.Shutdown()
	return 0
}
