-- +goose Up
-- The notify service's own table: one row per delivery of a page through a
-- provider. key is the delivery's idempotency key (the page's key, which
-- names incident, level, user or channel and contact method, plus the
-- provider); its uniqueness is what makes a redelivered page.requested send
-- nothing. Times are TEXT written by db.FormatTime (UTC, fixed width, so
-- text order is time order).
CREATE TABLE notify_deliveries (
    key             TEXT    PRIMARY KEY,
    incident_id     TEXT    NOT NULL,
    incident_number INTEGER NOT NULL,
    -- the page.requested envelope that asked for the delivery
    event_id        TEXT    NOT NULL,
    correlation_id  TEXT    NOT NULL DEFAULT '',
    provider        TEXT    NOT NULL,
    -- who or what is paged, e.g. "user:alice" or "channel:ops"; never an address
    target          TEXT    NOT NULL,
    contact_method  TEXT    NOT NULL DEFAULT '',
    status          TEXT    NOT NULL CHECK (status IN ('pending', 'sending', 'retrying', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    reason          TEXT    NOT NULL DEFAULT '',
    -- the page.requested data (JSON), what a retry sends again
    page            TEXT    NOT NULL,
    created_at      TEXT    NOT NULL,
    updated_at      TEXT    NOT NULL,
    next_attempt_at TEXT,
    sent_at         TEXT
);
CREATE INDEX notify_deliveries_incident ON notify_deliveries (incident_id, created_at);
CREATE INDEX notify_deliveries_number ON notify_deliveries (incident_number, created_at);

-- +goose Down
DROP TABLE notify_deliveries;
