-- +goose Up
-- The incident service's own tables. Times are TEXT written by
-- db.FormatTime (UTC, fixed width), so text order is time order.

-- Technical services that alerts and incidents belong to.
CREATE TABLE services (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL
);

-- One row per incident. version is the optimistic-lock counter: every update
-- names the version it read (UPDATE ... WHERE id = ? AND version = ?).
CREATE TABLE incidents (
    id              TEXT    PRIMARY KEY,
    number          INTEGER NOT NULL UNIQUE,
    service         TEXT    NOT NULL,
    dedup_key       TEXT    NOT NULL,
    title           TEXT    NOT NULL,
    severity        TEXT    NOT NULL,
    alert_severity  TEXT    NOT NULL DEFAULT '',
    status          TEXT    NOT NULL,
    alert_count     INTEGER NOT NULL,
    version         INTEGER NOT NULL,
    created_at      TEXT    NOT NULL,
    updated_at      TEXT    NOT NULL,
    last_alert_at   TEXT    NOT NULL,
    acknowledged_at TEXT,
    acknowledged_by TEXT    NOT NULL DEFAULT '',
    resolved_at     TEXT,
    resolved_by     TEXT    NOT NULL DEFAULT ''
);

-- At most one open incident per (service, dedup key): a repeated alert joins
-- the open incident; once it is resolved the next alert opens a new one.
CREATE UNIQUE INDEX incidents_open_dedup ON incidents (service, dedup_key)
    WHERE status <> 'resolved';
-- Listing newest first, filtered by status or by service.
CREATE INDEX incidents_status_number ON incidents (status, number DESC);
CREATE INDEX incidents_service_number ON incidents (service, number DESC);

-- The incident number counter: one row, incremented with UPDATE ... RETURNING
-- inside the creating transaction, so numbers never repeat (no MAX(number) + 1
-- race) and a rolled-back create gives its number back.
CREATE TABLE incident_numbers (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    last INTEGER NOT NULL
);
INSERT INTO incident_numbers (id, last) VALUES (1, 0);

-- Free-text notes on an incident, oldest first by id.
CREATE TABLE notes (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id   TEXT NOT NULL REFERENCES incidents (id),
    text          TEXT NOT NULL,
    actor_kind    TEXT NOT NULL,
    actor_id      TEXT NOT NULL,
    actor_name    TEXT NOT NULL DEFAULT '',
    actor_channel TEXT NOT NULL DEFAULT '',
    created_at    TEXT NOT NULL
);
CREATE INDEX notes_incident ON notes (incident_id, id);

-- +goose Down
DROP TABLE notes;
DROP TABLE incident_numbers;
DROP TABLE incidents;
DROP TABLE services;
