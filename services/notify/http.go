package notify

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/firebreak-dev/firebreak/internal/fault"
	"github.com/firebreak-dev/firebreak/internal/httpapi"
)

// DeliveryJSON is a delivery as the API shows it: never an address, a URL
// or a secret.
type DeliveryJSON struct {
	Key           string     `json:"key"`
	IncidentID    string     `json:"incident_id"`
	Number        int64      `json:"number"`
	Provider      string     `json:"provider"`
	Target        string     `json:"target"`
	ContactMethod string     `json:"contact_method,omitempty"`
	Level         int        `json:"level"`
	Status        Status     `json:"status"`
	Attempts      int        `json:"attempts"`
	Reason        string     `json:"reason,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
	NextAttemptAt *time.Time `json:"next_attempt_at,omitempty"`
	SentAt        *time.Time `json:"sent_at,omitempty"`
}

// DeliveriesJSON answers GET /api/v1/incidents/{id}/notifications.
type DeliveriesJSON struct {
	Notifications []DeliveryJSON `json:"notifications"`
}

func deliveryJSON(d Delivery) DeliveryJSON {
	out := DeliveryJSON{
		Key: d.Key, IncidentID: d.IncidentID, Number: d.Number, Provider: d.Provider, Target: d.Target,
		ContactMethod: d.ContactMethod, Level: d.Page.Level, Status: d.Status, Attempts: d.Attempts, Reason: d.Reason,
		CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt,
	}
	// A delivery in flight shows as retrying: from outside, an attempt is
	// under way or due.
	if out.Status == StatusPending || out.Status == StatusSending {
		out.Status = StatusRetrying
	}
	if !d.NextAttemptAt.IsZero() {
		t := d.NextAttemptAt
		out.NextAttemptAt = &t
	}
	if !d.SentAt.IsZero() {
		t := d.SentAt
		out.SentAt = &t
	}
	return out
}

// Routes mounts the notify API on srv.
func (s *Service) Routes(srv *httpapi.Server, logger *slog.Logger) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	srv.Handle("GET /api/v1/incidents/{id}/notifications", httpapi.ScopeIncidentsRead, func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if id == "" || len(id) > 200 {
			httpapi.WriteError(w, r, logger, fault.Field("id", "an incident id or number (INC-42) is required"))
			return
		}
		ds, err := s.Deliveries(r.Context(), id)
		if err != nil {
			httpapi.WriteError(w, r, logger, err)
			return
		}
		out := DeliveriesJSON{Notifications: make([]DeliveryJSON, 0, len(ds))}
		for _, d := range ds {
			out.Notifications = append(out.Notifications, deliveryJSON(d))
		}
		httpapi.WriteJSON(w, http.StatusOK, out)
	})
}
