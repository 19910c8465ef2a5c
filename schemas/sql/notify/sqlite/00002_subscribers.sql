-- +goose Up
-- Subscribers: people and systems outside the company that receive
-- published external status updates and vulnerability notices by email or
-- signed webhook. address is an email address or an https URL; topics is a
-- sorted comma-separated list of "advisories" and "status"; service, when
-- not empty, limits the subscriber to updates about that service (or
-- product). token_hash is the hex SHA-256 of the unsubscribe token; the
-- token itself is never stored.
CREATE TABLE notify_subscribers (
    id         TEXT PRIMARY KEY,
    kind       TEXT NOT NULL CHECK (kind IN ('email', 'webhook')),
    address    TEXT NOT NULL,
    topics     TEXT NOT NULL,
    service    TEXT NOT NULL DEFAULT '',
    token_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);
CREATE UNIQUE INDEX notify_subscribers_address ON notify_subscribers (kind, address, service);

-- A delivery of a status update, an advisory or a reporter update (not a
-- page) carries its rendered message here (JSON); page is then '{}'.
ALTER TABLE notify_deliveries ADD COLUMN notice TEXT;

-- +goose Down
ALTER TABLE notify_deliveries DROP COLUMN notice;
DROP TABLE notify_subscribers;
