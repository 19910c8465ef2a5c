package events

import "time"

// TypeIncidentAlertsCoalesced reports the repeats an open incident counted
// since its last report. In an alert storm only changes travel the bus
// (the first trigger, acknowledge, resolve, a trigger after resolve);
// repeats only raise the incident's alert count, and the incident service
// reports the new count at most once per coalescing interval per incident.
const TypeIncidentAlertsCoalesced = "incident.alerts_coalesced"

// IncidentAlertsCoalesced carries an incident's alert count after repeats
// were folded into it. AlertCount is the total (not a delta), so a consumer
// that sees a report twice, or misses one, still ends with the right count.
type IncidentAlertsCoalesced struct {
	IncidentRef
	Service     string    `json:"service"`
	DedupKey    string    `json:"dedup_key"`
	AlertCount  int64     `json:"alert_count"`
	LastAlertAt time.Time `json:"last_alert_at"`
}
