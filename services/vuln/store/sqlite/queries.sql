-- name: ProductPut :exec
INSERT INTO vuln_products (name, hosting, service) VALUES (?, ?, ?)
ON CONFLICT (name) DO UPDATE SET hosting = excluded.hosting, service = excluded.service;

-- name: ProductGet :one
SELECT name, hosting, service FROM vuln_products WHERE name = ?;

-- name: ProductList :many
SELECT name, hosting, service FROM vuln_products ORDER BY name;

-- name: VulnNextNumber :one
SELECT CAST(COALESCE(MAX(number), 0) + 1 AS INTEGER) FROM vuln_vulns;

-- name: VulnInsert :exec
INSERT INTO vuln_vulns (id, number, product, component, advisory_id, status, severity, disclosable, version, created_at, updated_at, doc)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?);

-- name: VulnUpdate :execrows
UPDATE vuln_vulns
SET status = ?, severity = ?, disclosable = ?, version = version + 1, updated_at = ?, doc = ?
WHERE id = ? AND version = ?;

-- name: VulnGetByID :one
SELECT doc, version FROM vuln_vulns WHERE id = ?;

-- name: VulnGetByNumber :one
SELECT doc, version FROM vuln_vulns WHERE number = ?;

-- name: VulnListByProduct :many
SELECT doc, version FROM vuln_vulns WHERE product = ? ORDER BY number;

-- name: VulnList :many
SELECT doc, version FROM vuln_vulns
WHERE (sqlc.arg(status) = '' OR status = sqlc.arg(status))
  AND (sqlc.arg(severity) = '' OR severity = sqlc.arg(severity))
  AND (sqlc.arg(product) = '' OR product = sqlc.arg(product))
  AND number > sqlc.arg(after)
ORDER BY number
LIMIT sqlc.arg(lim);

-- name: VulnListOpen :many
SELECT doc, version FROM vuln_vulns
WHERE status NOT IN ('released', 'communicated', 'closed', 'rejected', 'duplicate')
ORDER BY number;

-- name: VulnListRemediated :many
SELECT doc, version FROM vuln_vulns
WHERE status IN ('released', 'communicated', 'closed')
ORDER BY number;

-- name: HistoryAdd :exec
INSERT INTO vuln_history (vuln_id, kind, at, severity, doc) VALUES (?, ?, ?, ?, ?);

-- name: HistoryList :many
SELECT doc FROM vuln_history WHERE vuln_id = ? ORDER BY seq;

-- name: HistoryCountKind :many
SELECT severity, COUNT(*) AS n FROM vuln_history
WHERE kind = ? AND at >= sqlc.arg(from_at) AND at < sqlc.arg(to_at)
GROUP BY severity ORDER BY severity;

-- name: NoticeInsert :exec
INSERT INTO vuln_notices (id, vuln_id, status, published_at, version, created_at, doc) VALUES (?, ?, ?, ?, ?, ?, ?);

-- name: NoticeUpdate :execrows
UPDATE vuln_notices SET status = ?, published_at = ?, version = version + 1, doc = ?
WHERE id = ? AND version = ?;

-- name: NoticeGet :one
SELECT doc, version FROM vuln_notices WHERE id = ?;

-- name: NoticeListByVuln :many
SELECT doc, version FROM vuln_notices WHERE vuln_id = ? ORDER BY created_at, id;

-- name: AdvisoryList :many
-- Published notices of vulnerabilities that may be disclosed: the one
-- source of every public endpoint.
SELECT n.doc AS notice, v.doc AS vuln FROM vuln_notices n JOIN vuln_vulns v ON v.id = n.vuln_id
WHERE n.status = 'published' AND v.disclosable = 1
ORDER BY n.published_at DESC, n.id DESC
LIMIT sqlc.arg(lim);
