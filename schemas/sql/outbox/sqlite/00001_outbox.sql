-- +goose Up
-- The transactional outbox: a service writes the envelopes a state change
-- causes in the same transaction as the change; the relay publishes them to
-- JetStream with Nats-Msg-Id = msg_id and deletes what the server acknowledged.
CREATE TABLE fb_outbox (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    msg_id     TEXT    NOT NULL UNIQUE,
    subject    TEXT    NOT NULL,
    payload    BLOB    NOT NULL,
    created_at TEXT    NOT NULL
);

-- The inbox: ids of messages a consumer has applied, recorded in the same
-- transaction as the state change, so a redelivery changes nothing.
CREATE TABLE fb_inbox (
    consumer     TEXT NOT NULL,
    msg_id       TEXT NOT NULL,
    processed_at TEXT NOT NULL,
    PRIMARY KEY (consumer, msg_id)
);

-- +goose Down
DROP TABLE fb_inbox;
DROP TABLE fb_outbox;
