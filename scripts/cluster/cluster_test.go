package main

import (
	"context"
	"os"
	"testing"
)

// TestCluster runs the harness with a small load: three NATS processes,
// two `firebreak serve` processes per service on a fresh PostgreSQL
// database, 3 000 alerts over 20 s across 200 dedup keys with
// acknowledgements and resolutions, while one replica of each service is
// kill -9ed and restarted and one NATS node is stopped and started. It
// fails on any lost or duplicated alert, missing or duplicated incident,
// wrong final state, effect applied twice, page or incident message sent
// to the fake Slack twice (or never), missing audit record or broken
// audit chain (see verify).
func TestCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a NATS cluster and 8 firebreak processes; skipped with -short")
	}
	if os.Getenv("FIREBREAK_TEST_POSTGRES") == "" {
		t.Skip("FIREBREAK_TEST_POSTGRES is not set: the cluster harness needs PostgreSQL (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable)")
	}
	args := []string{"-alerts", "3000", "-duration", "20s", "-keys", "200", "-timeout", "8m"}
	if code := run(context.Background(), args, t.Output(), t.Output()); code != 0 {
		t.Fatalf("cluster harness exited %d (its report and the kept log directory are above)", code)
	}
}

func TestFlags(t *testing.T) {
	t.Setenv("FIREBREAK_TEST_POSTGRES", "postgres://x@127.0.0.1/db")
	for _, tc := range []struct {
		name string
		args []string
		ok   bool
	}{
		{"defaults", nil, true},
		{"keys not a multiple of 4", []string{"-keys", "10"}, false},
		{"too few alerts for the keys", []string{"-alerts", "100", "-keys", "200"}, false},
		{"no replicas", []string{"-replicas", "0"}, false},
		{"ci size", []string{"-alerts", "3000", "-duration", "20s"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseFlags(tc.args, t.Output())
			if (err == nil) != tc.ok {
				t.Errorf("parseFlags(%q) = %v, want ok=%v", tc.args, err, tc.ok)
			}
		})
	}
	t.Setenv("FIREBREAK_TEST_POSTGRES", "")
	if _, err := parseFlags(nil, t.Output()); err == nil {
		t.Error("no PostgreSQL: want an error")
	}
}
