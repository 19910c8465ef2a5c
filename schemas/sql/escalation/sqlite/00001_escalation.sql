-- +goose Up
-- The escalation service's own tables: the paging configuration, replaced
-- as a whole by `firebreak apply` (ConfigReplace), and one runtime row per
-- incident it escalates. position keeps the order the configuration was
-- written in, so an export reads like the file that was applied. Times are
-- TEXT written by db.FormatTime (UTC, fixed width, so text order is time
-- order).

-- version counts configuration replacements; a replacement names the version
-- it diffed against, so two concurrent applies cannot interleave.
CREATE TABLE esc_config_meta (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT INTO esc_config_meta (id, version) VALUES (1, 0);

CREATE TABLE esc_services (
    name              TEXT    PRIMARY KEY,
    position          INTEGER NOT NULL,
    description       TEXT    NOT NULL DEFAULT '',
    escalation_policy TEXT    NOT NULL DEFAULT '',
    ack_timeout_ms    INTEGER NOT NULL DEFAULT 0,
    -- JSON object, '' for no overrides.
    severity_map      TEXT    NOT NULL DEFAULT ''
);

CREATE TABLE esc_users (
    id        TEXT    PRIMARY KEY,
    position  INTEGER NOT NULL,
    name      TEXT    NOT NULL DEFAULT '',
    email     TEXT    NOT NULL DEFAULT '',
    time_zone TEXT    NOT NULL DEFAULT ''
);

CREATE TABLE esc_contact_methods (
    user_id  TEXT    NOT NULL REFERENCES esc_users (id) ON DELETE CASCADE,
    name     TEXT    NOT NULL,
    position INTEGER NOT NULL,
    type     TEXT    NOT NULL,
    address  TEXT    NOT NULL,
    PRIMARY KEY (user_id, name)
);

CREATE TABLE esc_notification_rules (
    user_id        TEXT    NOT NULL REFERENCES esc_users (id) ON DELETE CASCADE,
    position       INTEGER NOT NULL,
    contact_method TEXT    NOT NULL,
    delay_minutes  INTEGER NOT NULL,
    PRIMARY KEY (user_id, position)
);

-- A schedule is a schedule.Schedule as JSON: the engine compiles it whole,
-- so nothing gains from spreading layers over tables.
CREATE TABLE esc_schedules (
    name     TEXT    PRIMARY KEY,
    position INTEGER NOT NULL,
    body     TEXT    NOT NULL
);

CREATE TABLE esc_policies (
    name        TEXT    PRIMARY KEY,
    position    INTEGER NOT NULL,
    description TEXT    NOT NULL DEFAULT '',
    repeat      INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE esc_policy_levels (
    policy        TEXT    NOT NULL REFERENCES esc_policies (name) ON DELETE CASCADE,
    level_index   INTEGER NOT NULL,
    delay_minutes INTEGER NOT NULL,
    PRIMARY KEY (policy, level_index)
);

CREATE TABLE esc_policy_targets (
    policy      TEXT    NOT NULL,
    level_index INTEGER NOT NULL,
    position    INTEGER NOT NULL,
    type        TEXT    NOT NULL,
    target_id   TEXT    NOT NULL,
    PRIMARY KEY (policy, level_index, position),
    FOREIGN KEY (policy, level_index) REFERENCES esc_policy_levels (policy, level_index) ON DELETE CASCADE
);

CREATE TABLE esc_maintenance_windows (
    id       TEXT    PRIMARY KEY,
    position INTEGER NOT NULL,
    service  TEXT    NOT NULL,
    start_at TEXT    NOT NULL,
    end_at   TEXT    NOT NULL,
    reason   TEXT    NOT NULL DEFAULT ''
);

-- Which windows cover a service now.
CREATE INDEX esc_maintenance_windows_service ON esc_maintenance_windows (service, end_at);

-- One row per incident the service escalates. round counts the incident's
-- (re)starts, so pages of a reopened incident get new idempotency keys;
-- notify_timers lists the keys of its pending notification-rule timers (a
-- JSON array), so stopping cancels them.
CREATE TABLE escalations (
    incident_id   TEXT    PRIMARY KEY,
    number        INTEGER NOT NULL,
    service       TEXT    NOT NULL,
    title         TEXT    NOT NULL DEFAULT '',
    severity      TEXT    NOT NULL DEFAULT '',
    policy        TEXT    NOT NULL,
    level         INTEGER NOT NULL,
    status        TEXT    NOT NULL CHECK (status IN ('active', 'stopped')),
    round         INTEGER NOT NULL DEFAULT 1,
    notify_timers TEXT    NOT NULL DEFAULT '[]',
    started_at    TEXT    NOT NULL,
    updated_at    TEXT    NOT NULL
);

-- +goose Down
DROP TABLE escalations;
DROP TABLE esc_maintenance_windows;
DROP TABLE esc_policy_targets;
DROP TABLE esc_policy_levels;
DROP TABLE esc_policies;
DROP TABLE esc_schedules;
DROP TABLE esc_notification_rules;
DROP TABLE esc_contact_methods;
DROP TABLE esc_users;
DROP TABLE esc_services;
DROP TABLE esc_config_meta;
