-- +goose Up
-- The slack service's projection of each incident: what its message shows,
-- and where that message (and the incident's own channel) is in Slack.
-- version is the incident's version of the last status change applied, so
-- events handled out of order never move the message backwards.
CREATE TABLE slack_incident (
    id              TEXT    PRIMARY KEY,
    number          BIGINT  NOT NULL DEFAULT 0,
    title           TEXT    NOT NULL DEFAULT '',
    severity        TEXT    NOT NULL DEFAULT '',
    service         TEXT    NOT NULL DEFAULT '',
    status          TEXT    NOT NULL DEFAULT '',
    alert_count     BIGINT  NOT NULL DEFAULT 0,
    assignee        TEXT    NOT NULL DEFAULT '',
    acknowledged_by TEXT    NOT NULL DEFAULT '',
    resolved_by     TEXT    NOT NULL DEFAULT '',
    version         BIGINT  NOT NULL DEFAULT 0,
    updated_at      TIMESTAMPTZ NOT NULL,
    channel         TEXT    NOT NULL DEFAULT '',
    message_ts      TEXT    NOT NULL DEFAULT '',
    inc_channel     TEXT    NOT NULL DEFAULT '',
    inc_message_ts  TEXT    NOT NULL DEFAULT '',
    topic           TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX slack_incident_number ON slack_incident (number);
CREATE INDEX slack_incident_inc_channel ON slack_incident (inc_channel);

-- What the service still has to do in Slack for an incident, written in
-- the transaction that applied the event: a Slack outbox. dedup_key keeps
-- one pending "sync the message" per incident and one thread post per
-- event; a row is deleted once Slack accepted the call.
CREATE TABLE slack_effect (
    seq         BIGSERIAL PRIMARY KEY,
    incident_id TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    dedup_key   TEXT    NOT NULL UNIQUE,
    text        TEXT    NOT NULL DEFAULT '',
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX slack_effect_incident ON slack_effect (incident_id, seq);

-- Slack users linked to firebreak users (by email on first interaction,
-- by /incident link, or provisioned).
CREATE TABLE slack_user (
    slack_user_id TEXT    PRIMARY KEY,
    firebreak_id  TEXT    NOT NULL,
    email         TEXT    NOT NULL DEFAULT '',
    name          TEXT    NOT NULL DEFAULT '',
    provisioned   BOOLEAN NOT NULL DEFAULT FALSE,
    linked_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX slack_user_firebreak ON slack_user (firebreak_id);

-- Commands issued from Slack, so a command.rejected event can be told to
-- the person who issued it, where they issued it.
CREATE TABLE slack_command (
    command_id    TEXT PRIMARY KEY,
    slack_user_id TEXT NOT NULL,
    channel       TEXT NOT NULL,
    incident_id   TEXT NOT NULL DEFAULT '',
    created_at    TIMESTAMPTZ NOT NULL
);

-- +goose Down
DROP TABLE slack_command;
DROP TABLE slack_user;
DROP TABLE slack_effect;
DROP TABLE slack_incident;
