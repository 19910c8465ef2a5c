package bus

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// ErrPortInUse is returned by StartEmbedded when its client port is taken;
// the caller may retry on port 0 and print the URL it got.
var ErrPortInUse = errors.New("port in use")

// embeddedReadyTimeout bounds how long StartEmbedded waits for the server.
const embeddedReadyTimeout = 10 * time.Second

// EmbeddedConfig configures an in-process NATS server with JetStream.
type EmbeddedConfig struct {
	// StoreDir is where JetStream keeps its files. Required.
	StoreDir string
	// Listen is the client host:port. "" serves no network clients at all
	// (in-process connections only); port 0 picks a free port.
	Listen string
	// ServerName names the server; required and unique in a cluster.
	ServerName string
	// ClusterName, ClusterListen (host:port) and Routes (nats-route://
	// URLs of the other members) form an optional cluster.
	ClusterName   string
	ClusterListen string
	Routes        []string
	// Logger, when set, receives the server's own log; nil keeps it quiet.
	Logger *slog.Logger
}

// Embedded is a running in-process NATS server.
type Embedded struct {
	Server *server.Server
	// URL is the client URL, "" when the server does not listen.
	URL string
}

// StartEmbedded starts a NATS server with JetStream on file storage and
// waits until it accepts connections. When the Listen port is taken it
// returns an error wrapping ErrPortInUse.
func StartEmbedded(cfg EmbeddedConfig) (*Embedded, error) {
	if cfg.StoreDir == "" {
		return nil, errors.New("embedded nats: StoreDir is required")
	}
	opts := &server.Options{
		ServerName: cfg.ServerName,
		JetStream:  true,
		StoreDir:   cfg.StoreDir,
		NoSigs:     true,
		NoLog:      cfg.Logger == nil,
	}
	if cfg.Listen == "" {
		opts.DontListen = true
	} else {
		host, port, err := splitHostPort(cfg.Listen)
		if err != nil {
			return nil, fmt.Errorf("embedded nats listen %q: %w", cfg.Listen, err)
		}
		if port != server.RANDOM_PORT {
			// The server reports a taken port only through its log, so ask
			// the OS first; the window until the server binds is tiny.
			if err := probePort(cfg.Listen); err != nil {
				return nil, err
			}
		}
		opts.Host, opts.Port = host, port
	}
	if cfg.ClusterName != "" || cfg.ClusterListen != "" {
		host, port, err := splitHostPort(cfg.ClusterListen)
		if err != nil {
			return nil, fmt.Errorf("embedded nats cluster listen %q: %w", cfg.ClusterListen, err)
		}
		opts.Cluster = server.ClusterOpts{Name: cfg.ClusterName, Host: host, Port: port}
		if len(cfg.Routes) > 0 {
			opts.Routes = server.RoutesFromStr(strings.Join(cfg.Routes, ","))
		}
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	if cfg.Logger != nil {
		s.SetLoggerV2(serverLogger{cfg.Logger.With("component", "nats-server")}, false, false, false)
	}
	s.Start()
	if !s.ReadyForConnections(embeddedReadyTimeout) {
		s.Shutdown()
		s.WaitForShutdown()
		if cfg.Listen != "" {
			if err := probePort(cfg.Listen); err != nil {
				return nil, err
			}
		}
		return nil, fmt.Errorf("embedded nats: not ready after %s", embeddedReadyTimeout)
	}
	e := &Embedded{Server: s}
	if !opts.DontListen {
		e.URL = s.ClientURL()
	}
	return e, nil
}

// Connect opens a client connection to the server in-process (no network,
// whether or not the server listens).
func (e *Embedded) Connect(opts ...nats.Option) (*nats.Conn, error) {
	opts = append([]nats.Option{nats.InProcessServer(e.Server), nats.Name("firebreak-embedded")}, opts...)
	nc, err := nats.Connect("", opts...)
	if err != nil {
		return nil, fmt.Errorf("connect embedded nats: %w", err)
	}
	return nc, nil
}

// Shutdown stops the server and waits until it has stopped.
func (e *Embedded) Shutdown() {
	e.Server.Shutdown()
	e.Server.WaitForShutdown()
}

// splitHostPort parses host:port; port 0 means any free port.
func splitHostPort(hp string) (string, int, error) {
	host, ps, err := net.SplitHostPort(hp)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(ps)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("invalid port %q", ps)
	}
	if port == 0 {
		// nats-server reads 0 as "the default port"; -1 is "any".
		port = server.RANDOM_PORT
	}
	return host, port, nil
}

// probePort reports whether hp can be bound now.
func probePort(hp string) error {
	l, err := net.Listen("tcp", hp)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("embedded nats listen %s: %w", hp, ErrPortInUse)
		}
		return fmt.Errorf("embedded nats listen %s: %w", hp, err)
	}
	return l.Close()
}

// serverLogger sends nats-server's log to slog. Fatalf is logged as an
// error: the embedding process decides whether to exit.
type serverLogger struct{ l *slog.Logger }

func (s serverLogger) Noticef(format string, v ...any) { s.l.Info(fmt.Sprintf(format, v...)) }
func (s serverLogger) Warnf(format string, v ...any)   { s.l.Warn(fmt.Sprintf(format, v...)) }
func (s serverLogger) Fatalf(format string, v ...any)  { s.l.Error(fmt.Sprintf(format, v...)) }
func (s serverLogger) Errorf(format string, v ...any)  { s.l.Error(fmt.Sprintf(format, v...)) }
func (s serverLogger) Debugf(format string, v ...any)  { s.l.Debug(fmt.Sprintf(format, v...)) }
func (s serverLogger) Tracef(format string, v ...any)  { s.l.Debug(fmt.Sprintf(format, v...)) }
