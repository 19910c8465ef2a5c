-- name: OutboxInsert :exec
INSERT INTO fb_outbox (msg_id, subject, payload, created_at) VALUES (?, ?, ?, ?)
ON CONFLICT (msg_id) DO NOTHING;

-- name: OutboxPending :many
SELECT seq, msg_id, subject, payload FROM fb_outbox ORDER BY seq LIMIT ?;

-- name: OutboxDelete :exec
DELETE FROM fb_outbox WHERE seq = ?;

-- name: OutboxCount :one
SELECT COUNT(*) FROM fb_outbox;

-- name: InboxInsert :execrows
INSERT INTO fb_inbox (consumer, msg_id, processed_at) VALUES (?, ?, ?)
ON CONFLICT (consumer, msg_id) DO NOTHING;

-- name: InboxPrune :execrows
DELETE FROM fb_inbox WHERE processed_at < ?;
