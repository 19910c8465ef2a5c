-- Queries of the audit service's SQLite adapter. sqlc generates gen/ from
-- this file and schemas/sql/audit/sqlite. There is no UPDATE of a record:
-- the log is append-only; only AuditRecordArchive deletes, and only a
-- prefix that ends at a signed checkpoint.

-- name: AuditHeadGet :one
SELECT seq, hash, anchor_seq, anchor_hash FROM audit_head WHERE id = 1;

-- name: AuditHeadSet :exec
UPDATE audit_head SET seq = @seq, hash = @hash WHERE id = 1;

-- name: AuditAnchorSet :exec
UPDATE audit_head SET anchor_seq = @seq, anchor_hash = @hash WHERE id = 1;

-- name: AuditInboxInsert :execrows
-- The message's id in the consumer's inbox (internal/outbox's fb_inbox):
-- a redelivery inserts nothing and so appends nothing, even after the
-- record itself was archived.
INSERT INTO fb_inbox (consumer, msg_id, processed_at) VALUES (?, ?, ?)
ON CONFLICT (consumer, msg_id) DO NOTHING;

-- name: AuditRecordInsert :execrows
-- A message already in the log (delivered on another consumer) inserts
-- nothing.
INSERT INTO audit_record (seq, recorded_at, msg_id, type, subject, actor_kind, actor_id, incident_id, entry, prev_hash, hash)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (msg_id) DO NOTHING;

-- name: AuditRecordExists :one
SELECT COUNT(*) FROM audit_record WHERE msg_id = ?;

-- name: AuditRecordGet :one
SELECT * FROM audit_record WHERE seq = ?;

-- name: AuditRecordPage :many
-- Every record from seq on, in order: what verification walks.
SELECT * FROM audit_record WHERE seq >= @from_seq AND seq <= @to_seq ORDER BY seq LIMIT @lim;

-- name: AuditRecordRange :many
-- Records in [from_seq, to_seq] matching the filters ('' matches any).
SELECT * FROM audit_record
WHERE seq >= @from_seq AND seq <= @to_seq
  AND (CAST(@since AS TEXT) = '' OR recorded_at >= @since)
  AND (CAST(@until AS TEXT) = '' OR recorded_at < @until)
  AND (CAST(@type AS TEXT) = '' OR type = @type)
  AND (CAST(@actor AS TEXT) = '' OR actor_id = @actor)
  AND (CAST(@incident AS TEXT) = '' OR incident_id = @incident)
ORDER BY seq
LIMIT @lim;

-- name: AuditRecordArchive :execrows
DELETE FROM audit_record WHERE seq <= ?;

-- name: AuditCheckpointInsert :execrows
INSERT INTO audit_checkpoint (seq, hash, signed_at, public_key, signature)
VALUES (?, ?, ?, ?, ?)
ON CONFLICT (seq) DO NOTHING;

-- name: AuditCheckpointList :many
SELECT * FROM audit_checkpoint WHERE seq >= @from_seq AND seq <= @to_seq ORDER BY seq;

-- name: AuditCheckpointLatest :one
SELECT * FROM audit_checkpoint ORDER BY seq DESC LIMIT 1;
