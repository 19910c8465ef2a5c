-- name: TimerUpsert :exec
-- Scheduling an existing (kind, key) replaces that timer: new id, due time
-- and payload, no attempts, and no claim, so a runner holding the old claim
-- finds it gone when it fires.
INSERT INTO fb_timers (id, kind, key, due_at, payload, created_at, attempts, claimed_by, claimed_until, last_error)
VALUES ($1, $2, $3, $4, $5, $6, 0, NULL, NULL, '')
ON CONFLICT (kind, key) DO UPDATE SET
    id = excluded.id,
    due_at = excluded.due_at,
    payload = excluded.payload,
    created_at = excluded.created_at,
    attempts = 0,
    claimed_by = NULL,
    claimed_until = NULL,
    last_error = '';

-- name: TimerDeleteByKey :execrows
DELETE FROM fb_timers WHERE kind = $1 AND key = $2;

-- name: TimerGetByKey :one
SELECT id, kind, key, due_at, payload, created_at, attempts, claimed_by, claimed_until, last_error
FROM fb_timers WHERE kind = $1 AND key = $2;

-- name: TimerClaimDue :many
-- SKIP LOCKED lets runners claim side by side, and passes over a row whose
-- Fire transaction is deleting it.
WITH due AS (
    SELECT d.id FROM fb_timers d
    WHERE d.due_at <= @now AND (d.claimed_until IS NULL OR d.claimed_until < @now)
    ORDER BY d.due_at
    LIMIT @lim
    FOR UPDATE SKIP LOCKED
)
UPDATE fb_timers t SET claimed_by = @owner, claimed_until = @until
FROM due WHERE t.id = due.id
RETURNING t.id, t.kind, t.key, t.due_at, t.payload, t.created_at, t.attempts, t.claimed_by, t.claimed_until, t.last_error;

-- name: TimerDeleteClaimed :execrows
DELETE FROM fb_timers WHERE id = $1 AND claimed_by = $2;

-- name: TimerRetry :execrows
UPDATE fb_timers
SET attempts = attempts + 1, last_error = $3, due_at = $4, claimed_by = NULL, claimed_until = NULL
WHERE id = $1 AND claimed_by = $2;

-- name: TimerRelease :execrows
UPDATE fb_timers SET claimed_by = NULL, claimed_until = NULL
WHERE id = ANY(@ids::text[]) AND claimed_by = @owner;
