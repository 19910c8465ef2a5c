-- +goose Up
-- The alerts of an incident: one row per distinct alert, keyed by the
-- alert's fingerprint for Alertmanager and Grafana groups, else by the dedup
-- key. Each receipt of the alert updates its row (status, content,
-- last_seen_at, receipts), so the row shows the latest the source said.
-- seq orders the rows (first seen first) and is the paging cursor. labels,
-- annotations and details are JSON objects ('' for none). Times are TEXT
-- written by db.FormatTime.
CREATE TABLE incident_alerts (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id   TEXT    NOT NULL REFERENCES incidents (id),
    alert_key     TEXT    NOT NULL,
    status        TEXT    NOT NULL,
    summary       TEXT    NOT NULL DEFAULT '',
    severity      TEXT    NOT NULL DEFAULT '',
    source        TEXT    NOT NULL DEFAULT '',
    integration   TEXT    NOT NULL DEFAULT '',
    labels        TEXT    NOT NULL DEFAULT '',
    annotations   TEXT    NOT NULL DEFAULT '',
    details       TEXT    NOT NULL DEFAULT '',
    generator_url TEXT    NOT NULL DEFAULT '',
    starts_at     TEXT    NOT NULL,
    ends_at       TEXT,
    first_seen_at TEXT    NOT NULL,
    last_seen_at  TEXT    NOT NULL,
    receipts      INTEGER NOT NULL,
    UNIQUE (incident_id, alert_key)
);
CREATE INDEX incident_alerts_status ON incident_alerts (incident_id, status, seq);

-- Per incident, what its alert rows do not show: receipts of alerts beyond
-- the per-incident limit of distinct alerts (counted, not kept), and the
-- truncatedAlerts of the latest grouped notification (alerts the sender
-- left out of it).
CREATE TABLE incident_alert_totals (
    incident_id      TEXT    PRIMARY KEY REFERENCES incidents (id),
    overflow         INTEGER NOT NULL DEFAULT 0,
    truncated_alerts INTEGER NOT NULL DEFAULT 0
);

-- +goose Down
DROP TABLE incident_alert_totals;
DROP INDEX incident_alerts_status;
DROP TABLE incident_alerts;
