package bus

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func TestEnsureStreamsIdempotent(t *testing.T) {
	t.Parallel()
	js := startJetStream(t) // runs EnsureStreams once
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := EnsureStreams(ctx, js, 1); err != nil {
		t.Fatalf("second EnsureStreams: %v", err)
	}
	tests := []struct {
		stream    string
		subject   string
		retention jetstream.RetentionPolicy
	}{
		{StreamIngest, "fb.ingest.>", jetstream.LimitsPolicy},
		{StreamAlerts, "fb.alert.>", jetstream.LimitsPolicy},
		{StreamCmd, "fb.cmd.>", jetstream.InterestPolicy},
		{StreamEvt, "fb.evt.>", jetstream.LimitsPolicy},
		{StreamDLQ, "fb.dlq.>", jetstream.LimitsPolicy},
	}
	for _, tt := range tests {
		t.Run(tt.stream, func(t *testing.T) {
			s, err := js.Stream(ctx, tt.stream)
			if err != nil {
				t.Fatal(err)
			}
			info, err := s.Info(ctx)
			if err != nil {
				t.Fatal(err)
			}
			c := info.Config
			if len(c.Subjects) != 1 || c.Subjects[0] != tt.subject {
				t.Errorf("subjects = %v, want [%s]", c.Subjects, tt.subject)
			}
			if c.Retention != tt.retention {
				t.Errorf("retention = %v, want %v", c.Retention, tt.retention)
			}
			if c.Storage != jetstream.FileStorage {
				t.Errorf("storage = %v, want file", c.Storage)
			}
			if c.Duplicates != 2*time.Minute {
				t.Errorf("duplicates window = %v, want 2m", c.Duplicates)
			}
			if c.Replicas != 1 {
				t.Errorf("replicas = %d, want 1", c.Replicas)
			}
		})
	}
}

func TestStreamConfigsReplicas(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ in, want int }{{0, 1}, {1, 1}, {3, 3}} {
		for _, c := range StreamConfigs(tt.in) {
			if c.Replicas != tt.want {
				t.Errorf("StreamConfigs(%d): %s replicas = %d, want %d", tt.in, c.Name, c.Replicas, tt.want)
			}
		}
	}
}

func TestStartEmbeddedListen(t *testing.T) {
	t.Parallel()
	t.Run("port in use", func(t *testing.T) {
		t.Parallel()
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		e, err := StartEmbedded(EmbeddedConfig{StoreDir: t.TempDir(), Listen: l.Addr().String()})
		if err == nil {
			e.Shutdown()
			t.Fatal("started on a taken port")
		}
		if !errors.Is(err, ErrPortInUse) {
			t.Fatalf("err = %v, want ErrPortInUse", err)
		}
	})
	t.Run("free port", func(t *testing.T) {
		t.Parallel()
		e, err := StartEmbedded(EmbeddedConfig{StoreDir: t.TempDir(), Listen: "127.0.0.1:0"})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Shutdown()
		if e.URL == "" {
			t.Fatal("no client URL")
		}
		nc, err := nats.Connect(e.URL) // over TCP, as an outside producer would
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		if _, err := js.AccountInfo(ctx); err != nil {
			t.Fatalf("jetstream over tcp: %v", err)
		}
	})
	t.Run("no listener", func(t *testing.T) {
		t.Parallel()
		e, err := StartEmbedded(EmbeddedConfig{StoreDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Shutdown()
		if e.URL != "" {
			t.Errorf("URL = %q, want none", e.URL)
		}
	})
}

func TestPermanent(t *testing.T) {
	t.Parallel()
	base := errors.New("unknown incident")
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"plain", base, false},
		{"permanent", Permanent(base), true},
		{"wrapped permanent", fmt.Errorf("handle: %w", Permanent(base)), true},
		{"joined", errors.Join(errors.New("x"), Permanent(base)), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsPermanent(tt.err); got != tt.want {
				t.Errorf("IsPermanent = %v, want %v", got, tt.want)
			}
		})
	}
	if Permanent(nil) != nil {
		t.Error("Permanent(nil) != nil")
	}
	if !errors.Is(Permanent(base), base) {
		t.Error("Permanent hides the cause from errors.Is")
	}
}
