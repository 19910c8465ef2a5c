-- name: IncidentInsert :execrows
INSERT INTO pm_incidents (id, number, title, service, severity, dedup_key, status, triggered_at, alert_count)
VALUES (sqlc.arg(id), sqlc.arg(number), sqlc.arg(title), sqlc.arg(service), sqlc.arg(severity), sqlc.arg(dedup_key), sqlc.arg(status), sqlc.arg(triggered_at), sqlc.arg(alert_count))
ON CONFLICT DO NOTHING;

-- name: IncidentUpdate :exec
UPDATE pm_incidents
SET title = sqlc.arg(title), severity = sqlc.arg(severity), status = sqlc.arg(status),
    acknowledged_at = sqlc.narg(acknowledged_at), contained_at = sqlc.narg(contained_at),
    mitigated_at = sqlc.narg(mitigated_at), resolved_at = sqlc.narg(resolved_at)
WHERE id = sqlc.arg(id);

-- name: IncidentAlertsAdd :exec
-- Only the alerts consumer counts alerts, and atomically, so it never
-- overwrites the events consumer's changes (nor they its count).
UPDATE pm_incidents SET alert_count = alert_count + sqlc.arg(n) WHERE id = sqlc.arg(id);

-- name: IncidentGet :one
SELECT * FROM pm_incidents WHERE id = sqlc.arg(id);

-- name: IncidentGetByNumber :one
SELECT * FROM pm_incidents WHERE number = sqlc.arg(number);

-- name: IncidentAtKey :one
-- The incident of (service, dedup key) open at a time: triggered at most a
-- minute after it (the alert that opens an incident is received just
-- before) and not resolved before it.
SELECT * FROM pm_incidents
WHERE service = sqlc.arg(service) AND dedup_key = sqlc.arg(dedup_key)
  AND triggered_at <= sqlc.arg(opened_before)
  AND (resolved_at IS NULL OR resolved_at >= CAST(sqlc.arg(at) AS TEXT))
ORDER BY triggered_at DESC
LIMIT 1;

-- name: IncidentAtJoinedKey :one
-- The incident a dedup key joined (pm_incident_keys) open at a time: the
-- key joined at most a minute after it, and the incident was not resolved
-- before it.
SELECT i.* FROM pm_incident_keys k
JOIN pm_incidents i ON i.id = k.incident_id
WHERE k.service = sqlc.arg(service) AND k.dedup_key = sqlc.arg(dedup_key)
  AND k.joined_at <= sqlc.arg(opened_before)
  AND (i.resolved_at IS NULL OR i.resolved_at >= CAST(sqlc.arg(at) AS TEXT))
ORDER BY k.joined_at DESC
LIMIT 1;

-- name: IncidentKeyJoin :exec
INSERT INTO pm_incident_keys (service, dedup_key, incident_id, joined_at)
VALUES (sqlc.arg(service), sqlc.arg(dedup_key), sqlc.arg(incident_id), sqlc.arg(joined_at))
ON CONFLICT DO NOTHING;

-- name: IncidentListTriggered :many
SELECT * FROM pm_incidents
WHERE triggered_at >= sqlc.arg(since) AND triggered_at < sqlc.arg(until)
ORDER BY triggered_at, id;

-- name: EntryInsert :execrows
INSERT INTO pm_timeline (event_id, incident_id, at, type, actor_kind, actor_id, actor_name, actor_channel, summary, details, alert_service, alert_key, entry_json)
VALUES (sqlc.arg(event_id), sqlc.arg(incident_id), sqlc.arg(at), sqlc.arg(type), sqlc.arg(actor_kind), sqlc.arg(actor_id),
        sqlc.arg(actor_name), sqlc.arg(actor_channel), sqlc.arg(summary), sqlc.arg(details), sqlc.arg(alert_service), sqlc.arg(alert_key),
        sqlc.narg(entry_json))
ON CONFLICT DO NOTHING;

-- name: EntryListByIncident :many
SELECT event_id, incident_id, at, type, actor_kind, actor_id, actor_name, actor_channel, summary, details
FROM pm_timeline
WHERE incident_id = sqlc.arg(incident_id)
ORDER BY at, event_id;

-- name: EntryListByIncidentBrief :many
-- The timeline without each entry's event data (the default answer).
SELECT event_id, incident_id, at, type, actor_kind, actor_id, actor_name, actor_channel, summary
FROM pm_timeline
WHERE incident_id = sqlc.arg(incident_id)
ORDER BY at, event_id;

-- name: EntryJSONByIncident :many
-- The default JSON timeline: each entry's rendered JSON in timeline order
-- (NULL for an entry not rendered yet). The adapter runs this text itself,
-- reading each value without copying it.
SELECT entry_json
FROM pm_timeline
WHERE incident_id = sqlc.arg(incident_id)
ORDER BY at, event_id;

-- name: EntryCountByIncident :one
SELECT count(*) FROM pm_timeline WHERE incident_id = sqlc.arg(incident_id);

-- name: EntryListUnrendered :many
-- An incident's entries whose JSON is not rendered yet.
SELECT event_id, incident_id, at, type, actor_kind, actor_id, actor_name, actor_channel, summary
FROM pm_timeline
WHERE incident_id = sqlc.arg(incident_id) AND entry_json IS NULL;

-- name: EntrySetJSON :exec
UPDATE pm_timeline SET entry_json = sqlc.arg(entry_json)
WHERE event_id = sqlc.arg(event_id) AND incident_id = sqlc.arg(incident_id);

-- name: EntryAttachAlerts :execrows
UPDATE pm_timeline SET incident_id = sqlc.arg(incident_id)
WHERE incident_id = '' AND alert_service = sqlc.arg(alert_service) AND alert_key = sqlc.arg(alert_key)
  AND at >= sqlc.arg(since);

-- name: PageInsert :exec
INSERT INTO pm_pages (event_id, incident_id, user_id, service, severity, at)
VALUES (sqlc.arg(event_id), sqlc.arg(incident_id), sqlc.arg(user_id), sqlc.arg(service), sqlc.arg(severity), sqlc.arg(at))
ON CONFLICT DO NOTHING;

-- name: PageListSince :many
SELECT * FROM pm_pages WHERE at >= sqlc.arg(since) AND at < sqlc.arg(until) ORDER BY at, event_id;

-- name: PostmortemInsert :exec
INSERT INTO pm_postmortems (id, incident_id, state, revision, title, sections, created_by, created_at, updated_at, published_at)
VALUES (sqlc.arg(id), sqlc.arg(incident_id), sqlc.arg(state), sqlc.arg(revision), sqlc.arg(title), sqlc.arg(sections),
        sqlc.arg(created_by), sqlc.arg(created_at), sqlc.arg(updated_at), sqlc.narg(published_at));

-- name: PostmortemUpdate :execrows
-- Only an edit based on the current revision applies.
UPDATE pm_postmortems
SET state = sqlc.arg(state), revision = sqlc.arg(revision), title = sqlc.arg(title), sections = sqlc.arg(sections),
    updated_at = sqlc.arg(updated_at), published_at = sqlc.narg(published_at)
WHERE id = sqlc.arg(id) AND revision = sqlc.arg(base_revision);

-- name: PostmortemGet :one
SELECT * FROM pm_postmortems WHERE id = sqlc.arg(id);

-- name: PostmortemGetByIncident :one
SELECT * FROM pm_postmortems WHERE incident_id = sqlc.arg(incident_id);

-- name: RevisionInsert :exec
INSERT INTO pm_revisions (postmortem_id, revision, state, title, sections, author, at)
VALUES (sqlc.arg(postmortem_id), sqlc.arg(revision), sqlc.arg(state), sqlc.arg(title), sqlc.arg(sections), sqlc.arg(author), sqlc.arg(at));

-- name: RevisionList :many
SELECT * FROM pm_revisions WHERE postmortem_id = sqlc.arg(postmortem_id) ORDER BY revision;

-- name: ActionItemInsert :exec
INSERT INTO pm_action_items (id, incident_id, title, owner, due, status, tracker_url, created_at, updated_at, overdue_at, paged_at)
VALUES (sqlc.arg(id), sqlc.arg(incident_id), sqlc.arg(title), sqlc.arg(owner), sqlc.arg(due), sqlc.arg(status),
        sqlc.arg(tracker_url), sqlc.arg(created_at), sqlc.arg(updated_at), sqlc.narg(overdue_at), sqlc.narg(paged_at));

-- name: ActionItemUpdate :exec
UPDATE pm_action_items
SET title = sqlc.arg(title), owner = sqlc.arg(owner), due = sqlc.arg(due), status = sqlc.arg(status),
    tracker_url = sqlc.arg(tracker_url), updated_at = sqlc.arg(updated_at), overdue_at = sqlc.narg(overdue_at),
    paged_at = sqlc.narg(paged_at)
WHERE id = sqlc.arg(id);

-- name: ActionItemGet :one
SELECT * FROM pm_action_items WHERE id = sqlc.arg(id);

-- name: ActionItemList :many
-- An empty incident_id, status or due_before matches every item; a
-- due_before keeps the items due before it.
SELECT * FROM pm_action_items
WHERE (CAST(sqlc.arg(incident_id) AS TEXT) = '' OR incident_id = sqlc.arg(incident_id))
  AND (CAST(sqlc.arg(status) AS TEXT) = '' OR status = sqlc.arg(status))
  AND (CAST(sqlc.arg(due_before) AS TEXT) = '' OR (due <> '' AND due < sqlc.arg(due_before)))
ORDER BY created_at, id;

-- name: StatusUpdateInsert :exec
INSERT INTO pm_status_updates (id, incident_id, audience, status, title, body, state, drafted_by, approved_by, created_at, approved_at, published_at)
VALUES (sqlc.arg(id), sqlc.arg(incident_id), sqlc.arg(audience), sqlc.arg(status), sqlc.arg(title), sqlc.arg(body), sqlc.arg(state),
        sqlc.arg(drafted_by), sqlc.arg(approved_by), sqlc.arg(created_at), sqlc.narg(approved_at), sqlc.narg(published_at));

-- name: StatusUpdateUpdate :execrows
-- Only a change from the state the caller read applies.
UPDATE pm_status_updates
SET state = sqlc.arg(state), approved_by = sqlc.arg(approved_by), approved_at = sqlc.narg(approved_at), published_at = sqlc.narg(published_at)
WHERE id = sqlc.arg(id) AND state = sqlc.arg(from_state);

-- name: StatusUpdateGet :one
SELECT * FROM pm_status_updates WHERE id = sqlc.arg(id);

-- name: StatusUpdateListByIncident :many
SELECT * FROM pm_status_updates WHERE incident_id = sqlc.arg(incident_id) ORDER BY created_at, id;

-- name: StatusUpdateFeed :many
SELECT * FROM pm_status_updates
WHERE state = 'published' AND audience = 'external'
ORDER BY published_at DESC, id DESC
LIMIT sqlc.arg(lim);
