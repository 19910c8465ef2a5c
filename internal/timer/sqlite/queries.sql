-- name: TimerUpsert :exec
-- Scheduling an existing (kind, key) replaces that timer: new id, due time
-- and payload, no attempts, and no claim, so a runner holding the old claim
-- finds it gone when it fires.
INSERT INTO fb_timers (id, kind, key, due_at, payload, created_at, attempts, claimed_by, claimed_until, last_error)
VALUES (?, ?, ?, ?, ?, ?, 0, NULL, NULL, '')
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
DELETE FROM fb_timers WHERE kind = ? AND key = ?;

-- name: TimerGetByKey :one
SELECT id, kind, key, due_at, payload, created_at, attempts, claimed_by, claimed_until, last_error
FROM fb_timers WHERE kind = ? AND key = ?;

-- name: TimerClaimDue :many
UPDATE fb_timers SET claimed_by = sqlc.arg(owner), claimed_until = sqlc.arg(until)
WHERE id IN (
    SELECT d.id FROM fb_timers d
    WHERE d.due_at <= sqlc.arg(now) AND (d.claimed_until IS NULL OR d.claimed_until < sqlc.arg(now))
    ORDER BY d.due_at
    LIMIT sqlc.arg(lim)
)
RETURNING id, kind, key, due_at, payload, created_at, attempts, claimed_by, claimed_until, last_error;

-- name: TimerDeleteClaimed :execrows
DELETE FROM fb_timers WHERE id = ? AND claimed_by = ?;

-- name: TimerRetry :execrows
UPDATE fb_timers
SET attempts = attempts + 1, last_error = ?, due_at = ?, claimed_by = NULL, claimed_until = NULL
WHERE id = ? AND claimed_by = ?;

-- name: TimerRelease :execrows
UPDATE fb_timers SET claimed_by = NULL, claimed_until = NULL
WHERE id = ? AND claimed_by = ?;
