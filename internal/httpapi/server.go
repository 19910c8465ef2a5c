// Package httpapi is firebreak's HTTP edge: the server every service mounts
// its routes on, bearer-token authentication with scopes, size-limited strict
// JSON decoding, and the one mapping from errors to HTTP statuses and JSON
// error bodies ({"error":{"code","message","details"}}).
package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/fault"
)

// ReadyCheck reports whether a dependency is ready to serve.
type ReadyCheck func(ctx context.Context) error

// Server routes requests to the handlers services register on it.
type Server struct {
	mux      *http.ServeMux
	authn    Authenticator
	logger   *slog.Logger
	gatherer prometheus.Gatherer
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec

	// security, when set, hears of refused requests and token uses.
	security *SecurityEvents

	mu     sync.Mutex
	checks map[string]ReadyCheck
	ln     net.Listener
}

// New returns a server that authenticates with authn and exposes the
// metrics of reg at /metrics.
func New(authn Authenticator, logger *slog.Logger, reg *prometheus.Registry) (*Server, error) {
	s := &Server{
		mux:      http.NewServeMux(),
		authn:    authn,
		logger:   logger,
		gatherer: reg,
		checks:   map[string]ReadyCheck{},
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "firebreak_http_requests_total", Help: "HTTP requests by route and status.",
		}, []string{"route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "firebreak_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"route"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{s.requests, s.latency} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("register http metrics: %w", err)
			}
		}
	}
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.mux.HandleFunc("GET /readyz", s.ready)
	if reg != nil {
		s.mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	}
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		WriteError(w, r, s.logger, &fault.Error{Kind: fault.NotFound, Code: "no_route",
			Message: fmt.Sprintf("no route for %s %s", r.Method, r.URL.Path)})
	})
	return s, nil
}

// AddReadyCheck makes /readyz fail while check fails.
func (s *Server) AddReadyCheck(name string, check ReadyCheck) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checks[name] = check
}

func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	checks := make(map[string]ReadyCheck, len(s.checks))
	for k, v := range s.checks {
		checks[k] = v
	}
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	status, out := http.StatusOK, map[string]string{}
	for name, c := range checks {
		if err := c(ctx); err != nil {
			status, out[name] = http.StatusServiceUnavailable, err.Error()
			continue
		}
		out[name] = "ok"
	}
	WriteJSON(w, status, map[string]any{"status": map[bool]string{true: "ready", false: "not ready"}[status == http.StatusOK], "checks": out})
}

// Handle registers an authenticated route that requires scope.
func (s *Server) Handle(pattern, scope string, h http.HandlerFunc) {
	s.mux.Handle(pattern, s.instrument(pattern, s.authenticate(pattern, scope, h)))
}

// HandlePublic registers a route that needs no token (health, public feeds,
// integrations that authenticate themselves).
func (s *Server) HandlePublic(pattern string, h http.Handler) {
	s.mux.Handle(pattern, s.instrument(pattern, h))
}

// authenticate admits requests whose token holds scope. Refusals and uses
// are reported to the security events, if set; an authenticator that
// cannot answer (an unavailable token store) is an outage, not a refusal
// of the caller, and is not reported.
func (s *Server) authenticate(route, scope string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := bearer(r)
		p, err := s.authn.Authenticate(r.Context(), tok)
		if err != nil {
			if fault.KindOf(err) == fault.Unauthorized {
				reason := events.DenyInvalidToken
				if tok == "" {
					reason = events.DenyMissingToken
				}
				s.security.deny(r, denial{route: route, scope: scope, tok: tok, reason: reason, status: http.StatusUnauthorized})
			}
			WriteError(w, r, s.logger, err)
			return
		}
		if !p.Has(scope) {
			s.security.deny(r, denial{route: route, scope: scope, tok: tok, reason: events.DenyMissingScope, status: http.StatusForbidden, p: &p})
			WriteError(w, r, s.logger, &fault.Error{Kind: fault.Forbidden, Code: "missing_scope",
				Message: "token lacks scope " + scope, Details: map[string]any{"scope": scope}})
			return
		}
		s.security.use(r, route, tok, p)
		if a := auditOf(r); a != nil {
			a.scope, a.tok, a.p = scope, tok, &p
		}
		h.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
	})
}

type requestIDKey struct{}

// RequestID returns the request's id (X-Request-Id or a generated one); it
// becomes the correlation id of the events the request causes.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (s *Server) instrument(route string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if _, err := uuid.Parse(id); err != nil {
			id = uuid.Must(uuid.NewV7()).String()
		}
		w.Header().Set("X-Request-Id", id)
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				s.logger.ErrorContext(r.Context(), "handler panic", "route", route, "panic", p)
				if sw.status == 0 {
					WriteError(sw, r, s.logger, fmt.Errorf("panic: %v", p))
				}
			}
			s.requests.WithLabelValues(route, strconv.Itoa(sw.status)).Inc()
			s.latency.WithLabelValues(route).Observe(time.Since(start).Seconds())
		}()
		ctx := context.WithValue(r.Context(), requestIDKey{}, id)
		ctx = context.WithValue(ctx, auditKey{}, &requestAudit{s: s, route: route})
		h.ServeHTTP(sw, r.WithContext(ctx))
	})
}

// Handler returns the server's root handler (for httptest).
func (s *Server) Handler() http.Handler { return s.mux }

// Listen binds addr ("127.0.0.1:0" picks a free port) and returns the bound
// address, so callers can print it before serving.
func (s *Server) Listen(addr string) (net.Addr, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	s.mu.Lock()
	s.ln = ln
	s.mu.Unlock()
	return ln.Addr(), nil
}

// Serve answers requests on the bound listener until ctx ends, then shuts
// down gracefully, letting requests in flight finish.
func (s *Server) Serve(ctx context.Context) error {
	s.mu.Lock()
	ln := s.ln
	s.mu.Unlock()
	if ln == nil {
		return errors.New("httpapi: Serve before Listen")
	}
	srv := &http.Server{Handler: s.mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn)}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		return fmt.Errorf("http shutdown: %w", err)
	}
	return nil
}
