-- +goose Up
-- The vuln service's own tables. A vulnerability row keeps the columns the
-- service filters, orders and deduplicates on, and the whole record as JSON
-- in doc (the adapter's only encoding of it). Times are TEXT written by
-- db.FormatTime (UTC, fixed width, so text order is time order).

-- Products carry their hosting type (the remediation policy has timeframes
-- per hosting type) and the technical service whose escalation policy pages
-- when a deadline is breached.
CREATE TABLE vuln_products (
    name    TEXT PRIMARY KEY,
    hosting TEXT NOT NULL,
    service TEXT NOT NULL
);

CREATE TABLE vuln_vulns (
    id          TEXT    PRIMARY KEY,
    number      INTEGER NOT NULL UNIQUE,
    product     TEXT    NOT NULL,
    component   TEXT    NOT NULL,
    -- the de-duplication key of scanner findings with component; '' for
    -- records without an advisory (disclosures, manual entries).
    advisory_id TEXT    NOT NULL,
    status      TEXT    NOT NULL,
    severity    TEXT    NOT NULL,
    -- 1 while the record may appear on public endpoints (public and not
    -- embargoed); the public queries filter on it.
    disclosable INTEGER NOT NULL,
    version     INTEGER NOT NULL,
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL,
    doc         TEXT    NOT NULL
);
CREATE UNIQUE INDEX vuln_vulns_key ON vuln_vulns (product, component, advisory_id) WHERE advisory_id <> '';
CREATE INDEX vuln_vulns_status ON vuln_vulns (status);

-- history records what happened to a vulnerability: transitions, severity
-- changes, SLA warnings and breaches (the report counts breaches here).
CREATE TABLE vuln_history (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    vuln_id  TEXT NOT NULL REFERENCES vuln_vulns (id),
    kind     TEXT NOT NULL,
    at       TEXT NOT NULL,
    severity TEXT NOT NULL,
    doc      TEXT NOT NULL
);
CREATE INDEX vuln_history_vuln ON vuln_history (vuln_id, seq);
CREATE INDEX vuln_history_kind ON vuln_history (kind, at);

-- Customer notices: drafted, then approved and published by a holder of
-- comms:approve. published is 1 once approved.
CREATE TABLE vuln_notices (
    id         TEXT    PRIMARY KEY,
    vuln_id    TEXT    NOT NULL REFERENCES vuln_vulns (id),
    status     TEXT    NOT NULL,
    published_at TEXT  NOT NULL DEFAULT '',
    version    INTEGER NOT NULL,
    created_at TEXT    NOT NULL,
    doc        TEXT    NOT NULL
);
CREATE INDEX vuln_notices_vuln ON vuln_notices (vuln_id, created_at);
CREATE INDEX vuln_notices_published ON vuln_notices (status, published_at);

-- +goose Down
DROP TABLE vuln_notices;
DROP TABLE vuln_history;
DROP TABLE vuln_vulns;
DROP TABLE vuln_products;
