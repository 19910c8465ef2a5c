// Command firebreak is the incident response orchestrator: `firebreak dev`
// runs everything in one process; `firebreak serve <service>` runs one service
// against external NATS and PostgreSQL; the other commands talk to a running
// server's API.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
