-- +goose Up
-- Heartbeat monitors: a job pings POST /api/v1/heartbeats/{key} at least
-- every interval; a missed interval opens an incident (dedup key
-- heartbeat-<name>) and the next ping resolves it. Only the key's SHA-256 is
-- kept. status: new (never pinged), up, down.
CREATE TABLE heartbeats (
    id               TEXT    PRIMARY KEY,
    name             TEXT    NOT NULL UNIQUE,
    service          TEXT    NOT NULL,
    interval_seconds INTEGER NOT NULL,
    key_hash         TEXT    NOT NULL UNIQUE,
    status           TEXT    NOT NULL,
    last_ping_at     TEXT,
    created_at       TEXT    NOT NULL
);

-- +goose Down
DROP TABLE heartbeats;
