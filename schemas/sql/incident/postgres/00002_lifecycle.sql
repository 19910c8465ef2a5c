-- +goose Up
-- The full incident lifecycle (DESIGN.md, "Incident lifecycle"): new
-- incident fields, per-service settings, and the actions and responders of
-- an incident.

ALTER TABLE incidents
    ADD COLUMN summary                 TEXT        NOT NULL DEFAULT '',
    -- 'alert' or 'declared'; every incident before this migration came from
    -- an alert.
    ADD COLUMN origin                  TEXT        NOT NULL DEFAULT 'alert',
    ADD COLUMN assignee                TEXT        NOT NULL DEFAULT '',
    ADD COLUMN escalation_level        INT         NOT NULL DEFAULT 0,
    ADD COLUMN snoozed_until           TIMESTAMPTZ,
    -- The id of the incident this one was merged into ('' for none).
    ADD COLUMN merged_into             TEXT        NOT NULL DEFAULT '',
    ADD COLUMN contained_at            TIMESTAMPTZ,
    ADD COLUMN mitigated_at            TIMESTAMPTZ,
    ADD COLUMN closed_at               TIMESTAMPTZ,
    ADD COLUMN postmortem_published_at TIMESTAMPTZ,
    ADD COLUMN reopen_count            INT         NOT NULL DEFAULT 0;

-- "Open" is now every state that still needs people (incident.OpenStatuses);
-- resolved, postmortem and closed free the dedup key. The adapter's
-- IncidentOpenByDedup query repeats this list (so the planner can use this
-- index): keep them in step. The adapter maps a violation of this index, by
-- name, to incident.ErrConflict.
DROP INDEX incidents_open_dedup;
CREATE UNIQUE INDEX incidents_open_dedup ON incidents (service, dedup_key)
    WHERE status IN ('triggered', 'escalated', 'acknowledged', 'contained', 'mitigated');
-- "My incidents".
CREATE INDEX incidents_assignee_number ON incidents (assignee, number DESC);

-- Per-service settings. ack_timeout_ms is a duration in milliseconds (0:
-- never); severity_map is a JSON object of alert severity → SEV.
ALTER TABLE services
    ADD COLUMN escalation_policy TEXT   NOT NULL DEFAULT '',
    ADD COLUMN ack_timeout_ms    BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN severity_map      JSONB  NOT NULL DEFAULT '{}'
        CHECK (jsonb_typeof(severity_map) = 'object');

-- Containment and mitigation steps, oldest first by id.
CREATE TABLE incident_actions (
    id            BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id   TEXT        NOT NULL REFERENCES incidents (id),
    kind          TEXT        NOT NULL,
    text          TEXT        NOT NULL,
    actor_kind    TEXT        NOT NULL,
    actor_id      TEXT        NOT NULL,
    actor_name    TEXT        NOT NULL DEFAULT '',
    actor_channel TEXT        NOT NULL DEFAULT '',
    created_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX incident_actions_incident ON incident_actions (incident_id, id);

-- The people working on an incident, each once. seq keeps the order they
-- were added in (SQLite uses its rowid for this).
CREATE TABLE incident_responders (
    incident_id      TEXT        NOT NULL REFERENCES incidents (id),
    user_id          TEXT        NOT NULL,
    added_by_kind    TEXT        NOT NULL,
    added_by_id      TEXT        NOT NULL,
    added_by_name    TEXT        NOT NULL DEFAULT '',
    added_by_channel TEXT        NOT NULL DEFAULT '',
    added_at         TIMESTAMPTZ NOT NULL,
    seq              BIGINT      NOT NULL GENERATED ALWAYS AS IDENTITY,
    PRIMARY KEY (incident_id, user_id)
);

-- +goose Down
-- Going back fails if two incidents of one (service, dedup key) are in
-- postmortem or closed, which the old index counted as open.
DROP TABLE incident_responders;
DROP TABLE incident_actions;
ALTER TABLE services
    DROP COLUMN severity_map,
    DROP COLUMN ack_timeout_ms,
    DROP COLUMN escalation_policy;
DROP INDEX incidents_assignee_number;
DROP INDEX incidents_open_dedup;
CREATE UNIQUE INDEX incidents_open_dedup ON incidents (service, dedup_key)
    WHERE status <> 'resolved';
ALTER TABLE incidents
    DROP COLUMN reopen_count,
    DROP COLUMN postmortem_published_at,
    DROP COLUMN closed_at,
    DROP COLUMN mitigated_at,
    DROP COLUMN contained_at,
    DROP COLUMN merged_into,
    DROP COLUMN snoozed_until,
    DROP COLUMN escalation_level,
    DROP COLUMN assignee,
    DROP COLUMN origin,
    DROP COLUMN summary;
