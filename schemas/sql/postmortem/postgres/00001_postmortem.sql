-- +goose Up
-- The post-mortem service's own tables. It never reads another service's
-- tables: pm_incidents is its projection of incident.* events (the number ↔
-- id mapping comes from incident.triggered), pm_timeline one row per event
-- about an incident. Times are
-- timestamptz; JSON is kept as TEXT, byte for byte as written.

CREATE TABLE pm_incidents (
    id              TEXT    PRIMARY KEY,
    number          BIGINT NOT NULL,
    title           TEXT    NOT NULL DEFAULT '',
    service         TEXT    NOT NULL DEFAULT '',
    severity        TEXT    NOT NULL DEFAULT '',
    dedup_key       TEXT    NOT NULL DEFAULT '',
    status          TEXT    NOT NULL DEFAULT 'triggered',
    triggered_at    TIMESTAMPTZ NOT NULL,
    -- The first acknowledgement, containment and mitigation; the last
    -- resolution (a reopen clears it).
    acknowledged_at TIMESTAMPTZ,
    contained_at    TIMESTAMPTZ,
    mitigated_at    TIMESTAMPTZ,
    resolved_at     TIMESTAMPTZ,
    alert_count     BIGINT NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX pm_incidents_number ON pm_incidents (number);
CREATE INDEX pm_incidents_key ON pm_incidents (service, dedup_key, triggered_at);
CREATE INDEX pm_incidents_triggered ON pm_incidents (triggered_at);

-- One row per event about an incident. Alerts whose incident is not known
-- yet (their stream is consumed apart from FB_EVT) wait with incident_id ''
-- and are attached when incident.triggered for their (service, dedup key)
-- arrives.
CREATE TABLE pm_timeline (
    event_id      TEXT PRIMARY KEY,
    incident_id   TEXT NOT NULL,
    at            TIMESTAMPTZ NOT NULL,
    type          TEXT NOT NULL,
    actor_kind    TEXT NOT NULL DEFAULT '',
    actor_id      TEXT NOT NULL DEFAULT '',
    actor_name    TEXT NOT NULL DEFAULT '',
    actor_channel TEXT NOT NULL DEFAULT '',
    summary       TEXT NOT NULL,
    -- JSON object: the event's data.
    details       TEXT NOT NULL DEFAULT '{}',
    alert_service TEXT NOT NULL DEFAULT '',
    alert_key     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX pm_timeline_incident ON pm_timeline (incident_id, at, event_id);
CREATE INDEX pm_timeline_pending ON pm_timeline (alert_service, alert_key) WHERE incident_id = '';

-- Pages, for on-call load per person.
CREATE TABLE pm_pages (
    event_id    TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    service     TEXT NOT NULL DEFAULT '',
    severity    TEXT NOT NULL DEFAULT '',
    at          TIMESTAMPTZ NOT NULL
);
CREATE INDEX pm_pages_at ON pm_pages (at);

-- Post-mortem documents; revision counts edits and every edit names the
-- revision it was based on. sections is a JSON object.
CREATE TABLE pm_postmortems (
    id           TEXT    PRIMARY KEY,
    incident_id  TEXT    NOT NULL UNIQUE,
    state        TEXT    NOT NULL,
    revision     BIGINT NOT NULL,
    title        TEXT    NOT NULL,
    sections     TEXT    NOT NULL,
    created_by   TEXT    NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    published_at TIMESTAMPTZ
);

-- Every revision of every post-mortem, as it was saved.
CREATE TABLE pm_revisions (
    postmortem_id TEXT    NOT NULL,
    revision      BIGINT NOT NULL,
    state         TEXT    NOT NULL,
    title         TEXT    NOT NULL,
    sections      TEXT    NOT NULL,
    author        TEXT    NOT NULL,
    at            TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (postmortem_id, revision)
);

CREATE TABLE pm_action_items (
    id          TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL,
    title       TEXT NOT NULL,
    owner       TEXT NOT NULL,
    -- YYYY-MM-DD, '' for none.
    due         TEXT NOT NULL DEFAULT '',
    status      TEXT NOT NULL,
    tracker_url TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    -- When action_item.overdue was emitted for it.
    overdue_at  TIMESTAMPTZ
);
CREATE INDEX pm_action_items_incident ON pm_action_items (incident_id, created_at);

CREATE TABLE pm_status_updates (
    id           TEXT PRIMARY KEY,
    incident_id  TEXT NOT NULL,
    audience     TEXT NOT NULL,
    status       TEXT NOT NULL,
    title        TEXT NOT NULL,
    body         TEXT NOT NULL,
    -- draft → approved → published
    state        TEXT NOT NULL,
    drafted_by   TEXT NOT NULL,
    approved_by  TEXT NOT NULL DEFAULT '',
    created_at   TIMESTAMPTZ NOT NULL,
    approved_at  TIMESTAMPTZ,
    published_at TIMESTAMPTZ
);
CREATE INDEX pm_status_updates_feed ON pm_status_updates (published_at) WHERE state = 'published';
CREATE INDEX pm_status_updates_incident ON pm_status_updates (incident_id, created_at);

-- +goose Down
DROP TABLE pm_status_updates;
DROP TABLE pm_action_items;
DROP TABLE pm_revisions;
DROP TABLE pm_postmortems;
DROP TABLE pm_pages;
DROP TABLE pm_timeline;
DROP TABLE pm_incidents;
