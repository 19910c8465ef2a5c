-- +goose Up
-- The tamper-evident audit log: every command and event, in consumption
-- order, each row chained to the one before by
-- hash = sha256(prev_hash || entry) (hex), entry being the canonical JSON
-- of the envelope. Rows are only ever appended; retention deletes a prefix
-- that ends at a signed checkpoint, which becomes the chain's anchor.
CREATE TABLE audit_record (
    seq         BIGINT      PRIMARY KEY,
    recorded_at TIMESTAMPTZ NOT NULL,
    msg_id      TEXT    NOT NULL UNIQUE,
    type        TEXT    NOT NULL,
    subject     TEXT    NOT NULL,
    actor_kind  TEXT    NOT NULL,
    actor_id    TEXT    NOT NULL,
    incident_id TEXT    NOT NULL,
    entry       TEXT    NOT NULL,
    prev_hash   TEXT    NOT NULL,
    hash        TEXT    NOT NULL
);
CREATE INDEX audit_record_incident ON audit_record (incident_id, seq);
CREATE INDEX audit_record_recorded ON audit_record (recorded_at);

-- The chain's head (the last record) and anchor (the last archived record,
-- seq 0 and the genesis hash before any archive). Appends serialize on
-- this one row.
CREATE TABLE audit_head (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    seq         BIGINT  NOT NULL,
    hash        TEXT    NOT NULL,
    anchor_seq  BIGINT  NOT NULL,
    anchor_hash TEXT    NOT NULL
);
INSERT INTO audit_head (id, seq, hash, anchor_seq, anchor_hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000',
        0, '0000000000000000000000000000000000000000000000000000000000000000');

-- Signed checkpoints: an Ed25519 signature over (seq, hash, signed_at).
CREATE TABLE audit_checkpoint (
    seq        BIGINT PRIMARY KEY,
    hash       TEXT NOT NULL,
    signed_at  TIMESTAMPTZ NOT NULL,
    public_key TEXT NOT NULL,
    signature  TEXT NOT NULL
);

-- +goose Down
DROP TABLE audit_checkpoint;
DROP TABLE audit_head;
DROP TABLE audit_record;
