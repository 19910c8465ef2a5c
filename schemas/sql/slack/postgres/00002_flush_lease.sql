-- +goose Up
-- Who is performing an incident's Slack effects right now. Replicas of the
-- slack service share the effects; without this two of them could both
-- see "no message yet" and post the incident message twice. A lease
-- (until_ms, Unix milliseconds) outlives a crashed holder only briefly.
CREATE TABLE slack_flush_lease (
    incident_id TEXT   PRIMARY KEY,
    owner       TEXT   NOT NULL,
    until_ms    BIGINT NOT NULL
);

-- +goose Down
DROP TABLE slack_flush_lease;
