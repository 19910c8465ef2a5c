package notify

import (
	"html/template"
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
	s.subscriberRoutes(srv, logger)
}

// SubscriberJSON is a subscriber as the API shows it (never its token or
// the token's hash).
type SubscriberJSON struct {
	ID        string    `json:"id"`
	Kind      string    `json:"kind"`
	Address   string    `json:"address"`
	Topics    []string  `json:"topics"`
	Service   string    `json:"service,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	// UnsubscribeURL is shown once, in the answer to POST.
	UnsubscribeURL string `json:"unsubscribe_url,omitempty"`
}

// SubscribersJSON answers GET /api/v1/subscribers.
type SubscribersJSON struct {
	Subscribers []SubscriberJSON `json:"subscribers"`
}

func subscriberJSON(sub Subscriber) SubscriberJSON {
	return SubscriberJSON{ID: sub.ID, Kind: sub.Kind, Address: sub.Address, Topics: sub.Topics, Service: sub.Service, CreatedAt: sub.CreatedAt}
}

// maxSubscriberBody bounds POST /api/v1/subscribers.
const maxSubscriberBody = 16 << 10

var unsubscribePage = template.Must(template.New("unsubscribe").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex"><title>Unsubscribe</title></head>
<body>{{if .Done}}<p>You are unsubscribed. You will receive no more messages.</p>{{else}}
<form method="post" action="?token={{.Token}}"><p>Stop receiving status updates and advisories at this address?</p>
<button type="submit">Unsubscribe</button></form>{{end}}</body></html>
`))

// subscriberRoutes mounts the subscriber API (scope config:write: the list
// holds people's addresses) and the public unsubscribe page.
func (s *Service) subscriberRoutes(srv *httpapi.Server, logger *slog.Logger) {
	srv.Handle("POST /api/v1/subscribers", httpapi.ScopeConfigWrite, func(w http.ResponseWriter, r *http.Request) {
		var in SubscriberInput
		if err := httpapi.ReadJSON(w, r, maxSubscriberBody, &in); err != nil {
			httpapi.WriteError(w, r, logger, err)
			return
		}
		sub, link, err := s.Subscribe(r.Context(), in)
		if err != nil {
			httpapi.WriteError(w, r, logger, err)
			return
		}
		out := subscriberJSON(sub)
		out.UnsubscribeURL = link
		w.Header().Set("Location", "/api/v1/subscribers/"+sub.ID)
		httpapi.WriteJSON(w, http.StatusCreated, out)
	})
	srv.Handle("GET /api/v1/subscribers", httpapi.ScopeConfigWrite, func(w http.ResponseWriter, r *http.Request) {
		subs, err := s.Subscribers(r.Context())
		if err != nil {
			httpapi.WriteError(w, r, logger, err)
			return
		}
		out := SubscribersJSON{Subscribers: make([]SubscriberJSON, 0, len(subs))}
		for _, sub := range subs {
			out.Subscribers = append(out.Subscribers, subscriberJSON(sub))
		}
		httpapi.WriteJSON(w, http.StatusOK, out)
	})
	srv.Handle("DELETE /api/v1/subscribers/{id}", httpapi.ScopeConfigWrite, func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if id == "" || len(id) > 200 {
			httpapi.WriteError(w, r, logger, fault.Field("id", "a subscriber id is required"))
			return
		}
		if err := s.RemoveSubscriber(r.Context(), id); err != nil {
			httpapi.WriteError(w, r, logger, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	unsubscribe := func(w http.ResponseWriter, r *http.Request) {
		token := r.URL.Query().Get("token")
		if token == "" && r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
			if err := r.ParseForm(); err == nil {
				token = r.PostForm.Get("token")
			}
		}
		if token == "" {
			httpapi.WriteError(w, r, logger, fault.Field("token", "is required (the link in the message)"))
			return
		}
		var err error
		if r.Method == http.MethodPost {
			err = s.Unsubscribe(r.Context(), token)
		} else {
			// GET only asks: link scanners in mail systems follow links,
			// and must not unsubscribe anyone.
			err = s.CheckUnsubscribeToken(r.Context(), token)
		}
		if err != nil {
			httpapi.WriteError(w, r, logger, err)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Referrer-Policy", "no-referrer")
		_ = unsubscribePage.Execute(w, struct {
			Done  bool
			Token string
		}{r.Method == http.MethodPost, token})
	}
	srv.HandlePublic("GET /unsubscribe", http.HandlerFunc(unsubscribe))
	srv.HandlePublic("POST /unsubscribe", http.HandlerFunc(unsubscribe))
}
