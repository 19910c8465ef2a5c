-- Queries of the incident service's SQLite adapter. sqlc generates gen/ from
-- this file and schemas/sql/incident/sqlite; the adapter maps the generated
-- types to domain types.

-- name: ServiceGetByName :one
SELECT id, name, description, created_at FROM services WHERE name = ?;

-- name: ServiceInsert :exec
-- An existing name wins: creating a service is idempotent by name.
INSERT INTO services (id, name, description, created_at) VALUES (?, ?, ?, ?)
ON CONFLICT (name) DO NOTHING;

-- name: IncidentNumberNext :one
UPDATE incident_numbers SET last = last + 1 WHERE id = 1 RETURNING last;

-- name: IncidentInsert :exec
INSERT INTO incidents (
    id, number, service, dedup_key, title, severity, alert_severity, status,
    alert_count, version, created_at, updated_at, last_alert_at,
    acknowledged_at, acknowledged_by, resolved_at, resolved_by
) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?);

-- name: IncidentUpdate :execrows
UPDATE incidents SET
    title = @title,
    severity = @severity,
    alert_severity = @alert_severity,
    status = @status,
    alert_count = @alert_count,
    version = @version,
    updated_at = @updated_at,
    last_alert_at = @last_alert_at,
    acknowledged_at = @acknowledged_at,
    acknowledged_by = @acknowledged_by,
    resolved_at = @resolved_at,
    resolved_by = @resolved_by
WHERE id = @id AND version = @expected_version;

-- name: IncidentGetByID :one
SELECT * FROM incidents WHERE id = ?;

-- name: IncidentGetByNumber :one
SELECT * FROM incidents WHERE number = ?;

-- name: IncidentOpenByDedup :one
SELECT * FROM incidents
WHERE service = ? AND dedup_key = ? AND status <> 'resolved';

-- name: IncidentList :many
-- Newest first; before is the cursor (the caller passes MaxInt64 for none);
-- an empty service matches any.
SELECT * FROM incidents
WHERE service = IFNULL(NULLIF(CAST(@service AS TEXT), ''), service)
  AND number < @before
ORDER BY number DESC
LIMIT @lim;

-- name: IncidentListByStatus :many
-- Plain ? parameters only: sqlc numbers named ones (?2), which breaks the
-- positions after a sqlc.slice expands.
SELECT * FROM incidents
WHERE status IN (sqlc.slice('statuses'))
  AND service = IFNULL(NULLIF(CAST(? AS TEXT), ''), service)
  AND number < ?
ORDER BY number DESC
LIMIT ?;

-- name: NoteInsert :one
INSERT INTO notes (incident_id, text, actor_kind, actor_id, actor_name, actor_channel, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?)
RETURNING id;

-- name: NoteListByIncident :many
SELECT * FROM notes WHERE incident_id = ? ORDER BY id;
