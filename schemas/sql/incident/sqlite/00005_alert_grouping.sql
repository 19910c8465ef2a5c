-- +goose Up
-- Alert grouping (a service's rule folds related alerts into one open
-- incident) and merging: which incident an alert's dedup key belongs to
-- when it is not the incident's own.

-- The service's rule as JSON ({"by": [...], "window_ms": N}), '' for none.
ALTER TABLE services ADD COLUMN alert_grouping TEXT NOT NULL DEFAULT '';
-- The group key of the incident's first alert under its service's rule
-- ('' for an incident opened without one). It never changes.
ALTER TABLE incidents ADD COLUMN group_key TEXT NOT NULL DEFAULT '';
-- The open incident of a group. The status list is incident.OpenStatuses.
CREATE INDEX incidents_open_group ON incidents (service, group_key, created_at)
    WHERE group_key <> '' AND status IN ('triggered', 'escalated', 'acknowledged', 'contained', 'mitigated');

-- Dedup keys that joined an incident other than by being its own: by
-- grouping, or because their incident was merged into it. Events of the
-- key go to the newest open incident listed for it.
CREATE TABLE incident_dedup_members (
    service     TEXT NOT NULL,
    dedup_key   TEXT NOT NULL,
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    added_at    TEXT NOT NULL,
    PRIMARY KEY (service, dedup_key, incident_id)
);
CREATE INDEX incident_dedup_members_incident ON incident_dedup_members (incident_id);

-- +goose Down
DROP INDEX incident_dedup_members_incident;
DROP TABLE incident_dedup_members;
DROP INDEX incidents_open_group;
ALTER TABLE incidents DROP COLUMN group_key;
ALTER TABLE services DROP COLUMN alert_grouping;
