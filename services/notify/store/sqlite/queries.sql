-- Queries of the notify service's SQLite adapter. sqlc generates gen/ from
-- this file and schemas/sql/notify/sqlite; the adapter maps the generated
-- types to domain types.

-- name: DeliveryInsert :execrows
-- A delivery whose key exists already is left as it is (0 rows).
INSERT INTO notify_deliveries (key, incident_id, incident_number, event_id, correlation_id, provider, target,
    contact_method, status, attempts, reason, page, created_at, updated_at, next_attempt_at, sent_at, notice)
VALUES (@key, @incident_id, @incident_number, @event_id, @correlation_id, @provider, @target,
    @contact_method, @status, @attempts, @reason, @page, @created_at, @updated_at, @next_attempt_at, @sent_at, @notice)
ON CONFLICT (key) DO NOTHING;

-- name: DeliveryGet :one
SELECT * FROM notify_deliveries WHERE key = @key;

-- name: DeliveryUpdate :execrows
-- Only when the row is still at the status and attempt count the caller
-- read, so two writers cannot both record an attempt's outcome.
UPDATE notify_deliveries
SET status = @status, attempts = @attempts, reason = @reason, updated_at = @updated_at,
    next_attempt_at = @next_attempt_at, sent_at = @sent_at
WHERE key = @key AND status = @old_status AND attempts = @old_attempts;

-- name: DeliveryListByIncident :many
SELECT * FROM notify_deliveries WHERE incident_id = @incident_id ORDER BY created_at, key;

-- name: DeliveryListByNumber :many
SELECT * FROM notify_deliveries WHERE incident_number = @incident_number ORDER BY created_at, key;

-- name: SubscriberInsert :execrows
-- A subscriber with the same kind, address and service exists already
-- when 0 rows are inserted.
INSERT INTO notify_subscribers (id, kind, address, topics, service, token_hash, created_at)
VALUES (@id, @kind, @address, @topics, @service, @token_hash, @created_at)
ON CONFLICT DO NOTHING;

-- name: SubscriberGet :one
SELECT * FROM notify_subscribers WHERE id = @id;

-- name: SubscriberGetByTokenHash :one
SELECT * FROM notify_subscribers WHERE token_hash = @token_hash;

-- name: SubscriberList :many
SELECT * FROM notify_subscribers ORDER BY created_at, id;

-- name: SubscriberDelete :execrows
DELETE FROM notify_subscribers WHERE id = @id;
