-- Queries of the incident service's SQLite adapter. sqlc generates gen/ from
-- this file and schemas/sql/incident/sqlite; the adapter maps the generated
-- types to domain types.

-- name: ServiceGetByName :one
SELECT * FROM services WHERE name = ?;

-- name: ServiceList :many
SELECT * FROM services ORDER BY name;

-- name: ServiceInsert :exec
-- An existing name wins: creating a service is idempotent by name.
INSERT INTO services (id, name, description, created_at, escalation_policy, ack_timeout_ms, severity_map, alert_grouping)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (name) DO NOTHING;

-- name: ServiceUpdate :execrows
UPDATE services SET
    description = @description,
    escalation_policy = @escalation_policy,
    ack_timeout_ms = @ack_timeout_ms,
    severity_map = @severity_map,
    alert_grouping = @alert_grouping
WHERE name = @name;

-- name: IncidentNumberNext :one
UPDATE incident_numbers SET last = last + 1 WHERE id = 1 RETURNING last;

-- name: IncidentInsert :exec
INSERT INTO incidents (
    id, number, service, dedup_key, title, severity, alert_severity, status,
    alert_count, version, created_at, updated_at, last_alert_at,
    acknowledged_at, acknowledged_by, resolved_at, resolved_by,
    summary, origin, assignee, escalation_level, snoozed_until, merged_into,
    contained_at, mitigated_at, closed_at, postmortem_published_at, reopen_count,
    group_key
) VALUES (
    ?, ?, ?, ?, ?, ?, ?, ?,
    ?, ?, ?, ?, ?,
    ?, ?, ?, ?,
    ?, ?, ?, ?, ?, ?,
    ?, ?, ?, ?, ?,
    ?
);

-- name: IncidentUpdate :execrows
-- Every mutable field; id, number, service, dedup key, origin and creation
-- time never change.
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
    resolved_by = @resolved_by,
    summary = @summary,
    assignee = @assignee,
    escalation_level = @escalation_level,
    snoozed_until = @snoozed_until,
    merged_into = @merged_into,
    contained_at = @contained_at,
    mitigated_at = @mitigated_at,
    closed_at = @closed_at,
    postmortem_published_at = @postmortem_published_at,
    reopen_count = @reopen_count
WHERE id = @id AND version = @expected_version;

-- name: IncidentGetByID :one
SELECT * FROM incidents WHERE id = ?;

-- name: IncidentGetByNumber :one
SELECT * FROM incidents WHERE number = ?;

-- name: IncidentOpenByDedup :one
-- The status list is incident.OpenStatuses and the predicate of the
-- incidents_open_dedup index: keep the three in step.
SELECT * FROM incidents
WHERE service = ? AND dedup_key = ?
  AND status IN ('triggered', 'escalated', 'acknowledged', 'contained', 'mitigated');

-- name: IncidentOpenByMember :one
-- The newest open incident a dedup key joined (incident_dedup_members).
SELECT i.* FROM incident_dedup_members m
JOIN incidents i ON i.id = m.incident_id
WHERE m.service = ? AND m.dedup_key = ?
  AND i.status IN ('triggered', 'escalated', 'acknowledged', 'contained', 'mitigated')
ORDER BY i.number DESC
LIMIT 1;

-- name: IncidentOpenByGroup :one
-- The newest open incident of a group opened at or after since; the
-- predicate is the incidents_open_group index's.
SELECT * FROM incidents
WHERE service = ? AND group_key = ? AND created_at >= ? AND group_key <> ''
  AND status IN ('triggered', 'escalated', 'acknowledged', 'contained', 'mitigated')
ORDER BY number DESC
LIMIT 1;

-- name: MemberAdd :exec
INSERT INTO incident_dedup_members (service, dedup_key, incident_id, added_at)
VALUES (?, ?, ?, ?)
ON CONFLICT DO NOTHING;

-- name: MembersCopy :exec
-- Every dedup key that joined incident src joins dst too (a merge).
INSERT INTO incident_dedup_members (service, dedup_key, incident_id, added_at)
SELECT m.service, m.dedup_key, @dst, @added_at FROM incident_dedup_members AS m WHERE m.incident_id = @src
ON CONFLICT DO NOTHING;

-- name: IncidentList :many
-- Newest first; before is the cursor (the caller passes MaxInt64 for none);
-- an empty service or assignee matches any.
SELECT * FROM incidents
WHERE service = IFNULL(NULLIF(CAST(@service AS TEXT), ''), service)
  AND assignee = IFNULL(NULLIF(CAST(@assignee AS TEXT), ''), assignee)
  AND number < @before
ORDER BY number DESC
LIMIT @lim;

-- name: IncidentListByStatus :many
-- Plain ? parameters only: sqlc numbers named ones (?2), which breaks the
-- positions after a sqlc.slice expands.
SELECT * FROM incidents
WHERE status IN (sqlc.slice('statuses'))
  AND service = IFNULL(NULLIF(CAST(? AS TEXT), ''), service)
  AND assignee = IFNULL(NULLIF(CAST(? AS TEXT), ''), assignee)
  AND number < ?
ORDER BY number DESC
LIMIT ?;

-- name: NoteInsert :one
INSERT INTO notes (incident_id, text, actor_kind, actor_id, actor_name, actor_channel, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?)
RETURNING id;

-- name: NoteListByIncident :many
SELECT * FROM notes WHERE incident_id = ? ORDER BY id;

-- name: ActionInsert :one
INSERT INTO incident_actions (incident_id, kind, text, actor_kind, actor_id, actor_name, actor_channel, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
RETURNING id;

-- name: ActionListByIncident :many
SELECT * FROM incident_actions WHERE incident_id = ? ORDER BY id;

-- name: ResponderInsert :execrows
-- Adding a responder twice changes nothing (0 rows).
INSERT INTO incident_responders (incident_id, user_id, added_by_kind, added_by_id, added_by_name, added_by_channel, added_at)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (incident_id, user_id) DO NOTHING;

-- name: ResponderListByIncident :many
-- Rowid order is the order added.
SELECT incident_id, user_id, added_by_kind, added_by_id, added_by_name, added_by_channel, added_at
FROM incident_responders WHERE incident_id = ? ORDER BY rowid;

-- name: HeartbeatInsert :exec
INSERT INTO heartbeats (id, name, service, interval_seconds, key_hash, status, last_ping_at, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?);

-- name: HeartbeatGetByID :one
SELECT * FROM heartbeats WHERE id = ?;

-- name: HeartbeatGetByKeyHash :one
SELECT * FROM heartbeats WHERE key_hash = ?;

-- name: HeartbeatList :many
SELECT * FROM heartbeats ORDER BY name;

-- name: HeartbeatUpdate :execrows
UPDATE heartbeats SET status = ?, last_ping_at = ? WHERE id = ?;

-- name: HeartbeatGetByName :one
SELECT * FROM heartbeats WHERE name = ?;

-- name: AlertUpdate :execrows
-- A receipt of an alert the incident already has: the latest content wins,
-- starts_at stays unless the receipt names one, first_seen_at stays.
UPDATE incident_alerts SET
    status = @status, summary = @summary, severity = @severity, source = @source,
    integration = @integration, labels = @labels, annotations = @annotations, details = @details,
    generator_url = @generator_url, starts_at = COALESCE(sqlc.narg(starts_at), starts_at), ends_at = sqlc.narg(ends_at),
    last_seen_at = @last_seen_at, receipts = receipts + @receipts
WHERE incident_id = @incident_id AND alert_key = @alert_key;

-- name: AlertCountByIncident :one
SELECT COUNT(*) FROM incident_alerts WHERE incident_id = ?;

-- name: AlertInsert :exec
INSERT INTO incident_alerts (incident_id, alert_key, status, summary, severity, source, integration,
    labels, annotations, details, generator_url, starts_at, ends_at, first_seen_at, last_seen_at, receipts)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?);

-- name: AlertOverflowAdd :exec
INSERT INTO incident_alert_totals (incident_id, overflow) VALUES (?, ?)
ON CONFLICT (incident_id) DO UPDATE SET overflow = overflow + excluded.overflow;

-- name: AlertTruncatedSet :exec
INSERT INTO incident_alert_totals (incident_id, truncated_alerts) VALUES (?, ?)
ON CONFLICT (incident_id) DO UPDATE SET truncated_alerts = excluded.truncated_alerts;

-- name: AlertList :many
-- An incident's alerts, first seen first, after the cursor seq; status ''
-- means any.
SELECT * FROM incident_alerts
WHERE incident_id = @incident_id AND seq > @after_seq AND (CAST(@status AS TEXT) = '' OR status = CAST(@status AS TEXT))
ORDER BY seq LIMIT @lim;

-- name: AlertCountByStatus :many
SELECT status, COUNT(*) AS n FROM incident_alerts WHERE incident_id = ? GROUP BY status;

-- name: AlertTotalsGet :one
SELECT overflow, truncated_alerts FROM incident_alert_totals WHERE incident_id = ?;

-- name: AlertFiringCount :one
SELECT COUNT(*) FROM incident_alerts WHERE incident_id = ? AND status = 'firing';

-- name: AlertListAll :many
-- Every alert of an incident, first seen first (a merge moves them).
SELECT * FROM incident_alerts WHERE incident_id = ? ORDER BY seq;

-- name: AlertDeleteAll :exec
DELETE FROM incident_alerts WHERE incident_id = ?;

-- name: AlertTotalsDelete :exec
DELETE FROM incident_alert_totals WHERE incident_id = ?;

-- name: MemberCount :one
SELECT COUNT(*) FROM incident_dedup_members WHERE incident_id = ?;
