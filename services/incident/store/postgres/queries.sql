-- Queries of the incident service's PostgreSQL adapter. sqlc generates gen/
-- from this file and schemas/sql/incident/postgres; the adapter maps the
-- generated types to domain types.

-- name: ServiceGetByName :one
SELECT * FROM services WHERE name = $1;

-- name: ServiceList :many
SELECT * FROM services ORDER BY name;

-- name: ServiceInsert :exec
-- An existing name wins: creating a service is idempotent by name.
INSERT INTO services (id, name, description, created_at, escalation_policy, ack_timeout_ms, severity_map, alert_grouping)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
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
-- The row lock taken here is held until commit and queues other creators.
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
    $1, $2, $3, $4, $5, $6, $7, $8,
    $9, $10, $11, $12, $13,
    $14, $15, $16, $17,
    $18, $19, $20, $21, $22, $23,
    $24, $25, $26, $27, $28,
    $29
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
SELECT * FROM incidents WHERE id = $1;

-- name: IncidentGetByNumber :one
SELECT * FROM incidents WHERE number = $1;

-- name: IncidentOpenByDedup :one
-- The status list is incident.OpenStatuses and the predicate of the
-- incidents_open_dedup index (which it lets the planner use): keep the three
-- in step.
SELECT * FROM incidents
WHERE service = $1 AND dedup_key = $2
  AND status IN ('triggered', 'escalated', 'acknowledged', 'contained', 'mitigated');

-- name: IncidentOpenByMember :one
-- The newest open incident a dedup key joined (incident_dedup_members).
SELECT i.* FROM incident_dedup_members m
JOIN incidents i ON i.id = m.incident_id
WHERE m.service = $1 AND m.dedup_key = $2
  AND i.status IN ('triggered', 'escalated', 'acknowledged', 'contained', 'mitigated')
ORDER BY i.number DESC
LIMIT 1;

-- name: IncidentOpenByGroup :one
-- The newest open incident of a group opened at or after since; the
-- predicate is the incidents_open_group index's.
SELECT * FROM incidents
WHERE service = $1 AND group_key = $2 AND created_at >= $3 AND group_key <> ''
  AND status IN ('triggered', 'escalated', 'acknowledged', 'contained', 'mitigated')
ORDER BY number DESC
LIMIT 1;

-- name: MemberAdd :exec
INSERT INTO incident_dedup_members (service, dedup_key, incident_id, added_at)
VALUES ($1, $2, $3, $4)
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
WHERE (@service::text = '' OR service = @service::text)
  AND (@assignee::text = '' OR assignee = @assignee::text)
  AND number < @before::bigint
ORDER BY number DESC
LIMIT @lim::bigint;

-- name: IncidentListByStatus :many
SELECT * FROM incidents
WHERE status = ANY(@statuses::text[])
  AND (@service::text = '' OR service = @service::text)
  AND (@assignee::text = '' OR assignee = @assignee::text)
  AND number < @before::bigint
ORDER BY number DESC
LIMIT @lim::bigint;

-- name: NoteInsert :one
INSERT INTO notes (incident_id, text, actor_kind, actor_id, actor_name, actor_channel, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
RETURNING id;

-- name: NoteListByIncident :many
SELECT * FROM notes WHERE incident_id = $1 ORDER BY id;

-- name: ActionInsert :one
INSERT INTO incident_actions (incident_id, kind, text, actor_kind, actor_id, actor_name, actor_channel, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
RETURNING id;

-- name: ActionListByIncident :many
SELECT * FROM incident_actions WHERE incident_id = $1 ORDER BY id;

-- name: ResponderInsert :execrows
-- Adding a responder twice changes nothing (0 rows).
INSERT INTO incident_responders (incident_id, user_id, added_by_kind, added_by_id, added_by_name, added_by_channel, added_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (incident_id, user_id) DO NOTHING;

-- name: ResponderListByIncident :many
SELECT incident_id, user_id, added_by_kind, added_by_id, added_by_name, added_by_channel, added_at
FROM incident_responders WHERE incident_id = $1 ORDER BY seq;

-- name: HeartbeatInsert :exec
INSERT INTO heartbeats (id, name, service, interval_seconds, key_hash, status, last_ping_at, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8);

-- name: HeartbeatGetByID :one
SELECT * FROM heartbeats WHERE id = $1;

-- name: HeartbeatGetByKeyHash :one
SELECT * FROM heartbeats WHERE key_hash = $1;

-- name: HeartbeatList :many
SELECT * FROM heartbeats ORDER BY name;

-- name: HeartbeatUpdate :execrows
UPDATE heartbeats SET status = $1, last_ping_at = $2 WHERE id = $3;

-- name: HeartbeatGetByName :one
SELECT * FROM heartbeats WHERE name = $1;

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
SELECT COUNT(*) FROM incident_alerts WHERE incident_id = $1;

-- name: AlertInsert :exec
INSERT INTO incident_alerts (incident_id, alert_key, status, summary, severity, source, integration,
    labels, annotations, details, generator_url, starts_at, ends_at, first_seen_at, last_seen_at, receipts)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16);

-- name: AlertOverflowAdd :exec
INSERT INTO incident_alert_totals (incident_id, overflow) VALUES ($1, $2)
ON CONFLICT (incident_id) DO UPDATE SET overflow = incident_alert_totals.overflow + excluded.overflow;

-- name: AlertTruncatedSet :exec
INSERT INTO incident_alert_totals (incident_id, truncated_alerts) VALUES ($1, $2)
ON CONFLICT (incident_id) DO UPDATE SET truncated_alerts = excluded.truncated_alerts;

-- name: AlertList :many
-- An incident's alerts, first seen first, after the cursor seq; status ''
-- means any.
SELECT * FROM incident_alerts
WHERE incident_id = @incident_id AND seq > @after_seq AND (@status::text = '' OR status = @status::text)
ORDER BY seq LIMIT @lim;

-- name: AlertCountByStatus :many
SELECT status, COUNT(*) AS n FROM incident_alerts WHERE incident_id = $1 GROUP BY status;

-- name: AlertTotalsGet :one
SELECT overflow, truncated_alerts FROM incident_alert_totals WHERE incident_id = $1;

-- name: AlertFiringCount :one
SELECT COUNT(*) FROM incident_alerts WHERE incident_id = $1 AND status = 'firing';

-- name: AlertListAll :many
-- Every alert of an incident, first seen first (a merge moves them).
SELECT * FROM incident_alerts WHERE incident_id = $1 ORDER BY seq;

-- name: AlertDeleteAll :exec
DELETE FROM incident_alerts WHERE incident_id = $1;

-- name: AlertTotalsDelete :exec
DELETE FROM incident_alert_totals WHERE incident_id = $1;

-- name: MemberCount :one
SELECT COUNT(*) FROM incident_dedup_members WHERE incident_id = $1;
