-- name: ProductPut :exec
INSERT INTO vuln_products (name, hosting, service) VALUES ($1, $2, $3)
ON CONFLICT (name) DO UPDATE SET hosting = excluded.hosting, service = excluded.service;

-- name: ProductGet :one
SELECT name, hosting, service FROM vuln_products WHERE name = $1;

-- name: ProductList :many
SELECT name, hosting, service FROM vuln_products ORDER BY name;

-- name: VulnNextNumber :one
SELECT (COALESCE(MAX(number), 0) + 1)::BIGINT FROM vuln_vulns;

-- name: VulnInsert :exec
INSERT INTO vuln_vulns (id, number, product, component, advisory_id, status, severity, disclosable, version, created_at, updated_at, doc)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12);

-- name: VulnUpdate :execrows
UPDATE vuln_vulns
SET status = $1, severity = $2, disclosable = $3, version = version + 1, updated_at = $4, doc = $5
WHERE id = $6 AND version = $7;

-- name: VulnGetByID :one
SELECT doc, version FROM vuln_vulns WHERE id = $1;

-- name: VulnGetByNumber :one
SELECT doc, version FROM vuln_vulns WHERE number = $1;

-- name: VulnListByProduct :many
SELECT doc, version FROM vuln_vulns WHERE product = $1 ORDER BY number;

-- name: VulnList :many
SELECT doc, version FROM vuln_vulns
WHERE (sqlc.arg(status)::TEXT = '' OR status = sqlc.arg(status))
  AND (sqlc.arg(severity)::TEXT = '' OR severity = sqlc.arg(severity))
  AND (sqlc.arg(product)::TEXT = '' OR product = sqlc.arg(product))
  AND number > sqlc.arg(after)
ORDER BY number
LIMIT sqlc.arg(lim)::INT;

-- name: VulnListOpen :many
SELECT doc, version FROM vuln_vulns
WHERE status NOT IN ('released', 'communicated', 'closed', 'rejected', 'duplicate')
ORDER BY number;

-- name: VulnListRemediated :many
SELECT doc, version FROM vuln_vulns
WHERE status IN ('released', 'communicated', 'closed')
ORDER BY number;

-- name: HistoryAdd :exec
INSERT INTO vuln_history (vuln_id, kind, at, severity, doc) VALUES ($1, $2, $3, $4, $5);

-- name: HistoryList :many
SELECT doc FROM vuln_history WHERE vuln_id = $1 ORDER BY seq;

-- name: HistoryCountKind :many
SELECT severity, COUNT(*) AS n FROM vuln_history
WHERE kind = $1 AND at >= sqlc.arg(from_at) AND at < sqlc.arg(to_at)
GROUP BY severity ORDER BY severity;

-- name: NoticeInsert :exec
INSERT INTO vuln_notices (id, vuln_id, status, published_at, version, created_at, doc) VALUES ($1, $2, $3, $4, $5, $6, $7);

-- name: NoticeUpdate :execrows
UPDATE vuln_notices SET status = $1, published_at = $2, version = version + 1, doc = $3
WHERE id = $4 AND version = $5;

-- name: NoticeGet :one
SELECT doc, version FROM vuln_notices WHERE id = $1;

-- name: NoticeListByVuln :many
SELECT doc, version FROM vuln_notices WHERE vuln_id = $1 ORDER BY created_at, id;

-- name: AdvisoryList :many
-- Published notices of vulnerabilities that may be disclosed: the one
-- source of every public endpoint.
SELECT n.doc AS notice, v.doc AS vuln FROM vuln_notices n JOIN vuln_vulns v ON v.id = n.vuln_id
WHERE n.status = 'published' AND v.disclosable
ORDER BY n.published_at DESC, n.id DESC
LIMIT sqlc.arg(lim)::INT;
