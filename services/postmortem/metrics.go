package postmortem

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the service's Prometheus collectors. A nil *Metrics observes
// nothing. Each observation is made once per event: after the transaction
// that first projected it commits.
type Metrics struct {
	ack, contain, mitigate, resolve *prometheus.HistogramVec
	triggeredTotal, resolvedTotal   *prometheus.CounterVec
	pages, nightPages               *prometheus.CounterVec
	published, overdue, itemsPaged  prometheus.Counter
	statusUpdates                   *prometheus.CounterVec
}

// MetricNames lists every metric the service registers (the Grafana
// dashboard may query only these, and the router's and HTTP server's).
var MetricNames = []string{
	"firebreak_incident_time_to_acknowledge_seconds",
	"firebreak_incident_time_to_contain_seconds",
	"firebreak_incident_time_to_mitigate_seconds",
	"firebreak_incident_time_to_resolve_seconds",
	"firebreak_incidents_triggered_total",
	"firebreak_incidents_resolved_total",
	"firebreak_pages_total",
	"firebreak_pages_night_total",
	"firebreak_postmortems_published_total",
	"firebreak_action_items_overdue_total",
	"firebreak_status_updates_published_total",
	"firebreak_action_items_paged_total",
}

// responseBuckets span 30 s to 3 days.
var responseBuckets = []float64{30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800, 86400, 259200}

// NewMetrics registers the collectors on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	hist := func(name, help string) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: responseBuckets}, []string{"service", "severity"})
	}
	m := &Metrics{
		ack:      hist(MetricNames[0], "Time from an incident's trigger to its first acknowledgement."),
		contain:  hist(MetricNames[1], "Time from an incident's trigger to its first containment."),
		mitigate: hist(MetricNames[2], "Time from an incident's trigger to its first mitigation."),
		resolve:  hist(MetricNames[3], "Time from an incident's trigger to its resolution."),
		triggeredTotal: prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricNames[4],
			Help: "Incidents triggered, by service and severity."}, []string{"service", "severity"}),
		resolvedTotal: prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricNames[5],
			Help: "Incidents resolved, by service and severity."}, []string{"service", "severity"}),
		pages: prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricNames[6],
			Help: "Pages requested, by person paged."}, []string{"user"}),
		nightPages: prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricNames[7],
			Help: "Pages requested between 22:00 and 07:00 in the person's time zone, by person."}, []string{"user"}),
		published: prometheus.NewCounter(prometheus.CounterOpts{Name: MetricNames[8], Help: "Post-mortems published."}),
		overdue:   prometheus.NewCounter(prometheus.CounterOpts{Name: MetricNames[9], Help: "Action items reported overdue."}),
		statusUpdates: prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricNames[10],
			Help: "Status updates published, by audience."}, []string{"audience"}),
		itemsPaged: prometheus.NewCounter(prometheus.CounterOpts{Name: MetricNames[11],
			Help: "Overdue action items whose owner was paged (action_item.page_due)."}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.ack, m.contain, m.mitigate, m.resolve, m.triggeredTotal, m.resolvedTotal,
			m.pages, m.nightPages, m.published, m.overdue, m.statusUpdates, m.itemsPaged} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("register post-mortem metrics: %w", err)
			}
		}
	}
	return m, nil
}

func observe(h *prometheus.HistogramVec, i Incident, d time.Duration) {
	if d >= 0 {
		h.WithLabelValues(i.Service, i.Severity).Observe(d.Seconds())
	}
}

func (m *Metrics) acknowledged(i Incident, d time.Duration) {
	if m != nil {
		observe(m.ack, i, d)
	}
}

func (m *Metrics) contained(i Incident, d time.Duration) {
	if m != nil {
		observe(m.contain, i, d)
	}
}

func (m *Metrics) mitigated(i Incident, d time.Duration) {
	if m != nil {
		observe(m.mitigate, i, d)
	}
}

func (m *Metrics) resolved(i Incident, d time.Duration) {
	if m == nil {
		return
	}
	observe(m.resolve, i, d)
	m.resolvedTotal.WithLabelValues(i.Service, i.Severity).Inc()
}

func (m *Metrics) triggered(i Incident) {
	if m != nil {
		m.triggeredTotal.WithLabelValues(i.Service, i.Severity).Inc()
	}
}

func (m *Metrics) paged(p Page, loc *time.Location) {
	if m == nil {
		return
	}
	m.pages.WithLabelValues(p.User).Inc()
	if IsNight(p.At, loc) {
		m.nightPages.WithLabelValues(p.User).Inc()
	}
}

func (m *Metrics) postmortemPublished() {
	if m != nil {
		m.published.Inc()
	}
}

func (m *Metrics) actionItemOverdue() {
	if m != nil {
		m.overdue.Inc()
	}
}

func (m *Metrics) actionItemPaged() {
	if m != nil {
		m.itemsPaged.Inc()
	}
}

func (m *Metrics) statusUpdatePublished(audience string) {
	if m != nil {
		m.statusUpdates.WithLabelValues(audience).Inc()
	}
}

// Night hours, local time: [NightStart, 24) and [0, NightEnd).
const (
	NightStart = 22
	NightEnd   = 7
)

// IsNight reports whether t falls between 22:00 and 07:00 in loc.
func IsNight(t time.Time, loc *time.Location) bool {
	h := t.In(loc).Hour()
	return h >= NightStart || h < NightEnd
}
