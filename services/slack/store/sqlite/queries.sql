-- Queries of the slack service's SQLite adapter. sqlc generates gen/ from
-- this file and schemas/sql/slack/sqlite.

-- name: SlackIncidentGet :one
SELECT * FROM slack_incident WHERE id = ?;

-- name: SlackIncidentByNumber :one
SELECT * FROM slack_incident WHERE number = ? ORDER BY updated_at DESC LIMIT 1;

-- name: SlackIncidentByChannel :one
SELECT * FROM slack_incident WHERE inc_channel = ? AND inc_channel <> '' LIMIT 1;

-- name: SlackIncidentUpsert :exec
-- Writes the projection; where the incident's message and channel are in
-- Slack is left to the SetMessage/SetChannel queries.
INSERT INTO slack_incident (id, number, title, severity, service, status, alert_count, assignee,
    acknowledged_by, resolved_by, version, updated_at)
VALUES (@id, @number, @title, @severity, @service, @status, @alert_count, @assignee,
    @acknowledged_by, @resolved_by, @version, @updated_at)
ON CONFLICT (id) DO UPDATE SET
    number = excluded.number, title = excluded.title, severity = excluded.severity,
    service = excluded.service, status = excluded.status, alert_count = excluded.alert_count,
    assignee = excluded.assignee, acknowledged_by = excluded.acknowledged_by,
    resolved_by = excluded.resolved_by, version = excluded.version, updated_at = excluded.updated_at;

-- name: SlackIncidentSetMessage :exec
UPDATE slack_incident SET channel = @channel, message_ts = @message_ts WHERE id = @id;

-- name: SlackIncidentSetChannel :exec
UPDATE slack_incident SET inc_channel = @inc_channel, inc_message_ts = @inc_message_ts WHERE id = @id;

-- name: SlackIncidentSetTopic :exec
UPDATE slack_incident SET topic = @topic WHERE id = @id;

-- name: SlackEffectAdd :exec
INSERT INTO slack_effect (incident_id, kind, dedup_key, text, created_at)
VALUES (?, ?, ?, ?, ?)
ON CONFLICT (dedup_key) DO NOTHING;

-- name: SlackEffectList :many
SELECT * FROM slack_effect WHERE incident_id = ? ORDER BY seq;

-- name: SlackEffectIncidents :many
-- Incidents with effects left over (from a crash or a Slack outage), oldest
-- first.
SELECT incident_id FROM slack_effect GROUP BY incident_id ORDER BY MIN(seq) LIMIT ?;

-- name: SlackEffectDelete :exec
DELETE FROM slack_effect WHERE seq = ?;

-- name: SlackUserGet :one
SELECT * FROM slack_user WHERE slack_user_id = ?;

-- name: SlackUserByFirebreakID :one
SELECT * FROM slack_user WHERE firebreak_id = ? ORDER BY linked_at DESC LIMIT 1;

-- name: SlackUserUpsert :exec
INSERT INTO slack_user (slack_user_id, firebreak_id, email, name, provisioned, linked_at)
VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (slack_user_id) DO UPDATE SET
    firebreak_id = excluded.firebreak_id, email = excluded.email, name = excluded.name,
    provisioned = excluded.provisioned, linked_at = excluded.linked_at;

-- name: SlackCommandAdd :exec
INSERT INTO slack_command (command_id, slack_user_id, channel, incident_id, created_at)
VALUES (?, ?, ?, ?, ?)
ON CONFLICT (command_id) DO NOTHING;

-- name: SlackCommandGet :one
SELECT * FROM slack_command WHERE command_id = ?;

-- name: SlackFlushLease :one
-- The lease on an incident's effects (SQLite has one writer, so reading it
-- and then writing it in one transaction is the claim).
SELECT owner, until_ms FROM slack_flush_lease WHERE incident_id = ?;

-- name: SlackFlushPut :exec
INSERT OR REPLACE INTO slack_flush_lease (incident_id, owner, until_ms) VALUES (?, ?, ?);

-- name: SlackFlushRelease :exec
DELETE FROM slack_flush_lease WHERE incident_id = ? AND owner = ?;
