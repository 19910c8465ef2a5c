-- +goose Up
-- The incident service's own tables, in the service's own schema.

-- Technical services that alerts and incidents belong to.
CREATE TABLE services (
    id          TEXT        PRIMARY KEY,
    name        TEXT        NOT NULL UNIQUE,
    description TEXT        NOT NULL DEFAULT '',
    created_at  TIMESTAMPTZ NOT NULL
);

-- One row per incident. version is the optimistic-lock counter: every update
-- names the version it read (UPDATE ... WHERE id = $1 AND version = $2).
CREATE TABLE incidents (
    id              TEXT        PRIMARY KEY,
    number          BIGINT      NOT NULL UNIQUE,
    service         TEXT        NOT NULL,
    dedup_key       TEXT        NOT NULL,
    title           TEXT        NOT NULL,
    severity        TEXT        NOT NULL,
    alert_severity  TEXT        NOT NULL DEFAULT '',
    status          TEXT        NOT NULL,
    alert_count     BIGINT      NOT NULL,
    version         BIGINT      NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    last_alert_at   TIMESTAMPTZ NOT NULL,
    acknowledged_at TIMESTAMPTZ,
    acknowledged_by TEXT        NOT NULL DEFAULT '',
    resolved_at     TIMESTAMPTZ,
    resolved_by     TEXT        NOT NULL DEFAULT ''
);

-- At most one open incident per (service, dedup key): a repeated alert joins
-- the open incident; once it is resolved the next alert opens a new one. When
-- two replicas race to open the same incident the loser gets a unique
-- violation (23505) and the store retries its transaction.
CREATE UNIQUE INDEX incidents_open_dedup ON incidents (service, dedup_key)
    WHERE status <> 'resolved';
-- Listing newest first, filtered by status or by service.
CREATE INDEX incidents_status_number ON incidents (status, number DESC);
CREATE INDEX incidents_service_number ON incidents (service, number DESC);

-- The incident number counter: one row, incremented with UPDATE ... RETURNING
-- inside the creating transaction. Its row lock queues concurrent creators
-- (on any replica) until commit, so numbers are unique (no MAX(number) + 1
-- race) and a rolled-back create gives its number back.
CREATE TABLE incident_numbers (
    id   INT    PRIMARY KEY CHECK (id = 1),
    last BIGINT NOT NULL
);
INSERT INTO incident_numbers (id, last) VALUES (1, 0);

-- Free-text notes on an incident, oldest first by id.
CREATE TABLE notes (
    id            BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id   TEXT        NOT NULL REFERENCES incidents (id),
    text          TEXT        NOT NULL,
    actor_kind    TEXT        NOT NULL,
    actor_id      TEXT        NOT NULL,
    actor_name    TEXT        NOT NULL DEFAULT '',
    actor_channel TEXT        NOT NULL DEFAULT '',
    created_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX notes_incident ON notes (incident_id, id);

-- +goose Down
DROP TABLE notes;
DROP TABLE incident_numbers;
DROP TABLE incidents;
DROP TABLE services;
