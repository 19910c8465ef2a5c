package incident

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/fault"
	"github.com/firebreak-dev/firebreak/internal/httpapi"
	"github.com/firebreak-dev/firebreak/internal/timer"
)

// TimerHeartbeat is the kind of the timer that fires when a heartbeat
// monitor misses its interval.
const TimerHeartbeat = "heartbeat"

// Heartbeat interval bounds.
const (
	MinHeartbeatInterval = 10 * time.Second
	MaxHeartbeatInterval = 7 * 24 * time.Hour
)

// HeartbeatKeyPrefix starts every heartbeat key, so a leaked key is
// recognisable.
const HeartbeatKeyPrefix = "fbh_"

func hashKey(key string) string {
	h := sha256.Sum256([]byte(key))
	return hex.EncodeToString(h[:])
}

// heartbeatDedupKey is the dedup key of a monitor's incidents.
func heartbeatDedupKey(name string) string { return "heartbeat-" + name }

// CreateHeartbeat creates a monitor and returns it with its key, shown
// once. The monitor starts when it is first pinged.
func (s *Service) CreateHeartbeat(ctx context.Context, name, service string, interval time.Duration) (Heartbeat, string, error) {
	switch {
	case !serviceName.MatchString(name):
		return Heartbeat{}, "", fault.Field("name", "may contain only letters, digits, '-' and '_', starting with a letter or digit (at most 100)")
	case !serviceName.MatchString(service):
		return Heartbeat{}, "", fault.Field("service", "may contain only letters, digits, '-' and '_', starting with a letter or digit (at most 100)")
	case interval < MinHeartbeatInterval || interval > MaxHeartbeatInterval:
		return Heartbeat{}, "", fault.Field("interval_seconds", "must be from %d to %d", int(MinHeartbeatInterval/time.Second), int(MaxHeartbeatInterval/time.Second))
	}
	buf := make([]byte, 24)
	if _, err := rand.Read(buf); err != nil {
		return Heartbeat{}, "", err
	}
	key := HeartbeatKeyPrefix + base64.RawURLEncoding.EncodeToString(buf)
	hb := Heartbeat{ID: uuid.Must(uuid.NewV7()).String(), Name: name, Service: service, Interval: interval,
		Status: HeartbeatNew, CreatedAt: s.now().UTC()}
	err := s.store.InTx(ctx, func(tx Tx) error {
		if _, err := s.ensureService(ctx, tx, service); err != nil {
			return err
		}
		return tx.HeartbeatCreate(ctx, hb, hashKey(key))
	})
	if err != nil {
		return Heartbeat{}, "", err
	}
	return hb, key, nil
}

// ErrUnknownHeartbeat answers a ping with a key no monitor has; it does not
// say whether the key was ever valid.
var ErrUnknownHeartbeat = fault.New(fault.NotFound, "unknown_heartbeat", "no heartbeat monitor has this key")

// Ping records a heartbeat: it arms (or re-arms) the monitor's timer for
// one interval from now, and resolves the monitor's incident if it was down.
func (s *Service) Ping(ctx context.Context, key string) (Heartbeat, error) {
	if !strings.HasPrefix(key, HeartbeatKeyPrefix) || len(key) > 200 {
		return Heartbeat{}, ErrUnknownHeartbeat
	}
	var hb Heartbeat
	wrote := false
	err := s.store.InTx(ctx, func(tx Tx) error {
		var err error
		wrote = false
		hb, err = tx.HeartbeatByKeyHash(ctx, hashKey(key))
		if errors.Is(err, ErrNotFound) {
			return ErrUnknownHeartbeat
		}
		if err != nil {
			return err
		}
		now := s.now().UTC()
		wasDown := hb.Status == HeartbeatDown
		hb.Status, hb.LastPingAt = HeartbeatUp, &now
		if err := tx.HeartbeatUpdate(ctx, hb); err != nil {
			return err
		}
		if err := tx.TimerSchedule(ctx, timer.Timer{ID: timer.NewID(), Kind: TimerHeartbeat, Key: hb.ID,
			DueAt: now.Add(hb.Interval), CreatedAt: now}); err != nil {
			return err
		}
		if !wasDown {
			return nil
		}
		cause, err := heartbeatEvent(hb, events.ActionResolve, "heartbeat "+hb.Name+" is back", now)
		if err != nil {
			return err
		}
		wrote, err = s.raise(ctx, tx, cause)
		return err
	})
	if err == nil && wrote {
		s.commit()
	}
	return hb, err
}

// heartbeatEvent is the alert a monitor raises (or resolves) itself.
func heartbeatEvent(hb Heartbeat, action, summary string, now time.Time) (events.Envelope, error) {
	return events.New(events.TypeAlertReceived, Name, hb.Service+"/"+heartbeatDedupKey(hb.Name),
		events.Actor{Kind: events.ActorIntegration, ID: "heartbeat:" + hb.Name, Channel: events.ChannelAuto},
		events.AlertReceived{Service: hb.Service, DedupKey: heartbeatDedupKey(hb.Name), EventAction: action,
			Summary: summary, Severity: events.SeverityCritical, Source: "heartbeat/" + hb.Name,
			Integration: "heartbeat", ReceivedAt: now}, events.At(now))
}

func mustAlert(e events.Envelope) events.AlertReceived {
	var a events.AlertReceived
	_ = e.DecodeData(&a)
	return a
}

// fireHeartbeat opens the monitor's incident when its interval passed
// without a ping.
func (s *Service) fireHeartbeat(ctx context.Context, tx Tx, t timer.Timer) (bool, error) {
	hb, err := tx.HeartbeatGet(ctx, t.Key)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	now := s.now().UTC()
	if hb.Status != HeartbeatUp || hb.LastPingAt == nil || now.Before(hb.LastPingAt.Add(hb.Interval)) {
		return false, nil
	}
	hb.Status = HeartbeatDown
	if err := tx.HeartbeatUpdate(ctx, hb); err != nil {
		return false, err
	}
	summary := fmt.Sprintf("Heartbeat %s missed: no ping since %s (interval %s)", hb.Name,
		hb.LastPingAt.Format(time.RFC3339), hb.Interval)
	cause, err := heartbeatEvent(hb, events.ActionTrigger, summary, now)
	if err != nil {
		return false, err
	}
	return s.raise(ctx, tx, cause)
}

// raise applies an alert the service raised itself and puts it on the bus
// like any other alert; the alerts inbox records it first, so the service's
// own alert consumer does not apply it a second time.
func (s *Service) raise(ctx context.Context, tx Tx, alert events.Envelope) (bool, error) {
	if _, err := tx.MarkProcessed(ctx, ConsumerAlerts, alert.ID); err != nil {
		return false, err
	}
	if err := tx.Emit(ctx, alert); err != nil {
		return false, err
	}
	if _, err := s.applyAlert(ctx, tx, alert, mustAlert(alert)); err != nil {
		return false, err
	}
	return true, nil
}

// HeartbeatJSON is a monitor as the API shows it.
type HeartbeatJSON struct {
	ID              string     `json:"id"`
	Name            string     `json:"name"`
	Service         string     `json:"service"`
	IntervalSeconds int        `json:"interval_seconds"`
	Status          string     `json:"status"`
	LastPingAt      *time.Time `json:"last_ping_at,omitempty"`
	CreatedAt       time.Time  `json:"created_at"`
	// Key and PingURL are only in the answer to creation.
	Key     string `json:"key,omitempty"`
	PingURL string `json:"ping_url,omitempty"`
}

func heartbeatJSON(hb Heartbeat) HeartbeatJSON {
	return HeartbeatJSON{ID: hb.ID, Name: hb.Name, Service: hb.Service, IntervalSeconds: int(hb.Interval / time.Second),
		Status: hb.Status, LastPingAt: hb.LastPingAt, CreatedAt: hb.CreatedAt}
}

// HeartbeatBody is the body of POST /api/v1/heartbeats.
type HeartbeatBody struct {
	Name            string `json:"name"`
	Service         string `json:"service"`
	IntervalSeconds int    `json:"interval_seconds"`
}

func (s *Service) heartbeatRoutes(srv *httpapi.Server, logger *slog.Logger) {
	fail := func(w http.ResponseWriter, r *http.Request, err error) { httpapi.WriteError(w, r, logger, err) }
	srv.Handle("POST /api/v1/heartbeats", httpapi.ScopeConfigWrite, func(w http.ResponseWriter, r *http.Request) {
		var b HeartbeatBody
		if err := httpapi.ReadJSON(w, r, httpapi.MaxBody, &b); err != nil {
			fail(w, r, err)
			return
		}
		hb, key, err := s.CreateHeartbeat(r.Context(), b.Name, b.Service, time.Duration(b.IntervalSeconds)*time.Second)
		if err != nil {
			fail(w, r, err)
			return
		}
		out := heartbeatJSON(hb)
		out.Key, out.PingURL = key, "/api/v1/heartbeats/"+key
		httpapi.WriteJSON(w, http.StatusCreated, out)
	})
	srv.Handle("GET /api/v1/heartbeats", httpapi.ScopeIncidentsRead, func(w http.ResponseWriter, r *http.Request) {
		list, err := s.store.HeartbeatList(r.Context())
		if err != nil {
			fail(w, r, err)
			return
		}
		out := struct {
			Items []HeartbeatJSON `json:"items"`
		}{Items: []HeartbeatJSON{}}
		for _, hb := range list {
			out.Items = append(out.Items, heartbeatJSON(hb))
		}
		httpapi.WriteJSON(w, http.StatusOK, out)
	})
	// The key is the credential: jobs ping without an API token.
	srv.HandlePublic("POST /api/v1/heartbeats/{key}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hb, err := s.Ping(r.Context(), r.PathValue("key"))
		if err != nil {
			fail(w, r, err)
			return
		}
		httpapi.WriteJSON(w, http.StatusOK, map[string]any{"status": "ok", "name": hb.Name,
			"next_due_at": hb.LastPingAt.Add(hb.Interval)})
	}))
}
