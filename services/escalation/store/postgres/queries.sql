-- Queries of the escalation service's PostgreSQL adapter. sqlc generates gen/
-- from this file and schemas/sql/escalation/postgres; the adapter maps the
-- generated types to domain types.

-- name: ConfigVersion :one
SELECT version FROM esc_config_meta WHERE id = 1;

-- name: ConfigVersionBump :execrows
-- Only when the configuration is still the version the caller read.
UPDATE esc_config_meta SET version = version + 1 WHERE id = 1 AND version = @read;

-- name: ServiceList :many
SELECT * FROM esc_services ORDER BY position;

-- name: UserList :many
SELECT * FROM esc_users ORDER BY position;

-- name: ContactMethodList :many
SELECT * FROM esc_contact_methods ORDER BY user_id, position;

-- name: NotificationRuleList :many
SELECT * FROM esc_notification_rules ORDER BY user_id, position;

-- name: ScheduleList :many
SELECT * FROM esc_schedules ORDER BY position;

-- name: PolicyList :many
SELECT * FROM esc_policies ORDER BY position;

-- name: PolicyLevelList :many
SELECT * FROM esc_policy_levels ORDER BY policy, level_index;

-- name: PolicyTargetList :many
SELECT * FROM esc_policy_targets ORDER BY policy, level_index, position;

-- name: MaintenanceWindowList :many
SELECT * FROM esc_maintenance_windows ORDER BY position;

-- name: MaintenanceWindowActive :many
-- The windows of a service covering @at, earliest start first.
SELECT * FROM esc_maintenance_windows
WHERE service = @service AND start_at <= @at AND end_at > @at
ORDER BY start_at, id;

-- name: ServiceDeleteAll :exec
DELETE FROM esc_services;

-- name: UserDeleteAll :exec
-- Contact methods and notification rules go with their users (cascade).
DELETE FROM esc_users;

-- name: ScheduleDeleteAll :exec
DELETE FROM esc_schedules;

-- name: PolicyDeleteAll :exec
-- Levels and targets go with their policies (cascade).
DELETE FROM esc_policies;

-- name: MaintenanceWindowDeleteAll :exec
DELETE FROM esc_maintenance_windows;

-- name: ServiceInsert :exec
INSERT INTO esc_services (name, position, description, escalation_policy, ack_timeout_ms, severity_map, alert_grouping)
VALUES ($1, $2, $3, $4, $5, $6, $7);

-- name: UserInsert :exec
INSERT INTO esc_users (id, position, name, email, time_zone) VALUES ($1, $2, $3, $4, $5);

-- name: ContactMethodInsert :exec
INSERT INTO esc_contact_methods (user_id, name, position, type, address) VALUES ($1, $2, $3, $4, $5);

-- name: NotificationRuleInsert :exec
INSERT INTO esc_notification_rules (user_id, position, contact_method, delay_minutes) VALUES ($1, $2, $3, $4);

-- name: ScheduleInsert :exec
INSERT INTO esc_schedules (name, position, body) VALUES ($1, $2, $3);

-- name: PolicyInsert :exec
INSERT INTO esc_policies (name, position, description, repeat) VALUES ($1, $2, $3, $4);

-- name: PolicyLevelInsert :exec
INSERT INTO esc_policy_levels (policy, level_index, delay_minutes) VALUES ($1, $2, $3);

-- name: PolicyTargetInsert :exec
INSERT INTO esc_policy_targets (policy, level_index, position, type, target_id) VALUES ($1, $2, $3, $4, $5);

-- name: MaintenanceWindowInsert :exec
INSERT INTO esc_maintenance_windows (id, position, service, start_at, end_at, reason) VALUES ($1, $2, $3, $4, $5, $6);

-- name: EscalationGet :one
SELECT * FROM escalations WHERE incident_id = $1;

-- name: EscalationList :many
SELECT * FROM escalations ORDER BY started_at, incident_id;

-- name: EscalationUpsert :exec
INSERT INTO escalations (incident_id, number, service, title, severity, policy, level, status, round,
    notify_timers, started_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
ON CONFLICT (incident_id) DO UPDATE SET
    number = excluded.number,
    service = excluded.service,
    title = excluded.title,
    severity = excluded.severity,
    policy = excluded.policy,
    level = excluded.level,
    status = excluded.status,
    round = excluded.round,
    notify_timers = excluded.notify_timers,
    started_at = excluded.started_at,
    updated_at = excluded.updated_at;
