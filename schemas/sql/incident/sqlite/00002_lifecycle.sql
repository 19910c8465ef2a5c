-- +goose Up
-- The full incident lifecycle (DESIGN.md, "Incident lifecycle"): new
-- incident fields, per-service settings, and the actions and responders of
-- an incident. Times are TEXT written by db.FormatTime, as in 00001. SQLite
-- adds one column per ALTER TABLE.

ALTER TABLE incidents ADD COLUMN summary TEXT NOT NULL DEFAULT '';
-- 'alert' or 'declared'; every incident before this migration came from an
-- alert.
ALTER TABLE incidents ADD COLUMN origin TEXT NOT NULL DEFAULT 'alert';
ALTER TABLE incidents ADD COLUMN assignee TEXT NOT NULL DEFAULT '';
ALTER TABLE incidents ADD COLUMN escalation_level INTEGER NOT NULL DEFAULT 0;
ALTER TABLE incidents ADD COLUMN snoozed_until TEXT;
-- The id of the incident this one was merged into ('' for none).
ALTER TABLE incidents ADD COLUMN merged_into TEXT NOT NULL DEFAULT '';
ALTER TABLE incidents ADD COLUMN contained_at TEXT;
ALTER TABLE incidents ADD COLUMN mitigated_at TEXT;
ALTER TABLE incidents ADD COLUMN closed_at TEXT;
ALTER TABLE incidents ADD COLUMN postmortem_published_at TEXT;
ALTER TABLE incidents ADD COLUMN reopen_count INTEGER NOT NULL DEFAULT 0;

-- "Open" is now every state that still needs people (incident.OpenStatuses);
-- resolved, postmortem and closed free the dedup key. The adapter's
-- IncidentOpenByDedup query repeats this list: keep them in step.
DROP INDEX incidents_open_dedup;
CREATE UNIQUE INDEX incidents_open_dedup ON incidents (service, dedup_key)
    WHERE status IN ('triggered', 'escalated', 'acknowledged', 'contained', 'mitigated');
-- "My incidents".
CREATE INDEX incidents_assignee_number ON incidents (assignee, number DESC);

-- Per-service settings. ack_timeout_ms is a duration in milliseconds (0:
-- never); severity_map is a JSON object of alert severity → SEV.
ALTER TABLE services ADD COLUMN escalation_policy TEXT NOT NULL DEFAULT '';
ALTER TABLE services ADD COLUMN ack_timeout_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE services ADD COLUMN severity_map TEXT NOT NULL DEFAULT '{}';

-- Containment and mitigation steps, oldest first by id.
CREATE TABLE incident_actions (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id   TEXT NOT NULL REFERENCES incidents (id),
    kind          TEXT NOT NULL,
    text          TEXT NOT NULL,
    actor_kind    TEXT NOT NULL,
    actor_id      TEXT NOT NULL,
    actor_name    TEXT NOT NULL DEFAULT '',
    actor_channel TEXT NOT NULL DEFAULT '',
    created_at    TEXT NOT NULL
);
CREATE INDEX incident_actions_incident ON incident_actions (incident_id, id);

-- The people working on an incident, each once. Listed in the order added,
-- which on SQLite is rowid order (a composite primary key keeps the rowid).
CREATE TABLE incident_responders (
    incident_id      TEXT NOT NULL REFERENCES incidents (id),
    user_id          TEXT NOT NULL,
    added_by_kind    TEXT NOT NULL,
    added_by_id      TEXT NOT NULL,
    added_by_name    TEXT NOT NULL DEFAULT '',
    added_by_channel TEXT NOT NULL DEFAULT '',
    added_at         TEXT NOT NULL,
    PRIMARY KEY (incident_id, user_id)
);

-- +goose Down
-- Going back fails if two incidents of one (service, dedup key) are in
-- postmortem or closed, which the old index counted as open.
DROP TABLE incident_responders;
DROP TABLE incident_actions;
ALTER TABLE services DROP COLUMN severity_map;
ALTER TABLE services DROP COLUMN ack_timeout_ms;
ALTER TABLE services DROP COLUMN escalation_policy;
DROP INDEX incidents_assignee_number;
DROP INDEX incidents_open_dedup;
CREATE UNIQUE INDEX incidents_open_dedup ON incidents (service, dedup_key)
    WHERE status <> 'resolved';
ALTER TABLE incidents DROP COLUMN reopen_count;
ALTER TABLE incidents DROP COLUMN postmortem_published_at;
ALTER TABLE incidents DROP COLUMN closed_at;
ALTER TABLE incidents DROP COLUMN mitigated_at;
ALTER TABLE incidents DROP COLUMN contained_at;
ALTER TABLE incidents DROP COLUMN merged_into;
ALTER TABLE incidents DROP COLUMN snoozed_until;
ALTER TABLE incidents DROP COLUMN escalation_level;
ALTER TABLE incidents DROP COLUMN assignee;
ALTER TABLE incidents DROP COLUMN origin;
ALTER TABLE incidents DROP COLUMN summary;
