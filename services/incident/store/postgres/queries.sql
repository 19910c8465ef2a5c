-- Queries of the incident service's PostgreSQL adapter. sqlc generates gen/
-- from this file and schemas/sql/incident/postgres; the adapter maps the
-- generated types to domain types.

-- name: ServiceGetByName :one
SELECT id, name, description, created_at FROM services WHERE name = $1;

-- name: ServiceInsert :exec
-- An existing name wins: creating a service is idempotent by name.
INSERT INTO services (id, name, description, created_at) VALUES ($1, $2, $3, $4)
ON CONFLICT (name) DO NOTHING;

-- name: IncidentNumberNext :one
-- The row lock taken here is held until commit and queues other creators.
UPDATE incident_numbers SET last = last + 1 WHERE id = 1 RETURNING last;

-- name: IncidentInsert :exec
INSERT INTO incidents (
    id, number, service, dedup_key, title, severity, alert_severity, status,
    alert_count, version, created_at, updated_at, last_alert_at,
    acknowledged_at, acknowledged_by, resolved_at, resolved_by
) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17);

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
SELECT * FROM incidents WHERE id = $1;

-- name: IncidentGetByNumber :one
SELECT * FROM incidents WHERE number = $1;

-- name: IncidentOpenByDedup :one
SELECT * FROM incidents
WHERE service = $1 AND dedup_key = $2 AND status <> 'resolved';

-- name: IncidentList :many
-- Newest first; before is the cursor (the caller passes MaxInt64 for none).
SELECT * FROM incidents
WHERE (@service::text = '' OR service = @service::text)
  AND number < @before::bigint
ORDER BY number DESC
LIMIT @lim::bigint;

-- name: IncidentListByStatus :many
SELECT * FROM incidents
WHERE status = ANY(@statuses::text[])
  AND (@service::text = '' OR service = @service::text)
  AND number < @before::bigint
ORDER BY number DESC
LIMIT @lim::bigint;

-- name: NoteInsert :one
INSERT INTO notes (incident_id, text, actor_kind, actor_id, actor_name, actor_channel, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
RETURNING id;

-- name: NoteListByIncident :many
SELECT * FROM notes WHERE incident_id = $1 ORDER BY id;
