-- +goose Up
-- Durable timers (escalation steps, acknowledgement timeouts, SLA warnings,
-- snoozes), shared by every service like the outbox. A service schedules and
-- cancels them in the same transaction as its state change; a runner claims
-- due rows with FOR UPDATE SKIP LOCKED (claimed_by, claimed_until is the
-- lease) and fires each one by deleting it in the transaction that applies
-- its effect, so it fires once.
CREATE TABLE fb_timers (
    id            TEXT        PRIMARY KEY,
    kind          TEXT        NOT NULL,
    key           TEXT        NOT NULL,
    due_at        TIMESTAMPTZ NOT NULL,
    payload       BYTEA       NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    attempts      INTEGER     NOT NULL DEFAULT 0,
    claimed_by    TEXT,
    claimed_until TIMESTAMPTZ,
    last_error    TEXT        NOT NULL DEFAULT '',
    -- One pending timer per (kind, key): scheduling it again replaces it.
    UNIQUE (kind, key)
);

-- Claiming reads the earliest due timers.
CREATE INDEX fb_timers_due ON fb_timers (due_at);

-- +goose Down
DROP TABLE fb_timers;
