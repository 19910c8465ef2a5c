-- +goose Up
-- Dedup keys that joined an incident other than their own: by the
-- service's alert grouping rule (incident.alert_grouped) or because their
-- incident was merged into it (incident.merged). Their alerts received from
-- joined_at on belong to that incident's timeline.
CREATE TABLE pm_incident_keys (
    service     TEXT NOT NULL,
    dedup_key   TEXT NOT NULL,
    incident_id TEXT NOT NULL,
    joined_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (service, dedup_key, incident_id)
);

-- +goose Down
DROP TABLE pm_incident_keys;
