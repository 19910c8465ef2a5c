-- name: OutboxInsert :exec
INSERT INTO fb_outbox (msg_id, subject, payload, created_at) VALUES ($1, $2, $3, $4)
ON CONFLICT (msg_id) DO NOTHING;

-- name: OutboxPending :many
SELECT seq, msg_id, subject, payload FROM fb_outbox ORDER BY seq LIMIT $1;

-- name: OutboxDelete :exec
DELETE FROM fb_outbox WHERE seq = ANY(@seqs::bigint[]);

-- name: OutboxCount :one
SELECT COUNT(*) FROM fb_outbox;

-- name: InboxInsert :execrows
INSERT INTO fb_inbox (consumer, msg_id, processed_at) VALUES ($1, $2, $3)
ON CONFLICT (consumer, msg_id) DO NOTHING;

-- name: InboxPrune :execrows
DELETE FROM fb_inbox WHERE processed_at < $1;
