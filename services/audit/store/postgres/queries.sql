-- Queries of the audit service's PostgreSQL adapter. sqlc generates gen/
-- from this file and schemas/sql/audit/postgres. There is no UPDATE of a
-- record: the log is append-only; only AuditRecordArchive deletes, and only
-- a prefix that ends at a signed checkpoint.

-- name: AuditHeadGet :one
SELECT seq, hash, anchor_seq, anchor_hash FROM audit_head WHERE id = 1;

-- name: AuditHeadLock :one
-- Appends from every replica serialize on the head row, so the chain
-- cannot fork.
SELECT seq, hash, anchor_seq, anchor_hash FROM audit_head WHERE id = 1 FOR UPDATE;

-- name: AuditHeadSet :exec
UPDATE audit_head SET seq = @seq, hash = @hash WHERE id = 1;

-- name: AuditAnchorSet :exec
UPDATE audit_head SET anchor_seq = @seq, anchor_hash = @hash WHERE id = 1;

-- name: AuditRecordInsert :execrows
-- A message already in the log (delivered on another consumer) inserts
-- nothing.
INSERT INTO audit_record (seq, recorded_at, msg_id, type, subject, actor_kind, actor_id, incident_id, entry, prev_hash, hash)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
ON CONFLICT (msg_id) DO NOTHING;

-- name: AuditRecordExists :one
SELECT COUNT(*) FROM audit_record WHERE msg_id = $1;

-- name: AuditRecordGet :one
SELECT * FROM audit_record WHERE seq = $1;

-- name: AuditRecordPage :many
-- Every record from seq on, in order: what verification walks.
SELECT * FROM audit_record WHERE seq >= @from_seq AND seq <= @to_seq ORDER BY seq LIMIT @lim;

-- name: AuditRecordRange :many
-- Records in [from_seq, to_seq] matching the filters (NULL / '' match any).
SELECT * FROM audit_record
WHERE seq >= @from_seq AND seq <= @to_seq
  AND (sqlc.narg(since)::timestamptz IS NULL OR recorded_at >= sqlc.narg(since))
  AND (sqlc.narg(until)::timestamptz IS NULL OR recorded_at < sqlc.narg(until))
  AND (@type::text = '' OR type = @type)
  AND (@actor::text = '' OR actor_id = @actor)
  AND (@incident::text = '' OR incident_id = @incident)
ORDER BY seq
LIMIT @lim;

-- name: AuditRecordArchive :execrows
DELETE FROM audit_record WHERE seq <= $1;

-- name: AuditCheckpointInsert :execrows
INSERT INTO audit_checkpoint (seq, hash, signed_at, public_key, signature)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (seq) DO NOTHING;

-- name: AuditCheckpointList :many
SELECT * FROM audit_checkpoint WHERE seq >= @from_seq AND seq <= @to_seq ORDER BY seq;

-- name: AuditCheckpointLatest :one
SELECT * FROM audit_checkpoint ORDER BY seq DESC LIMIT 1;
