-- +goose Up
-- Each timeline entry's JSON as the default timeline answer lists it
-- (postmortem.EntryJSON: no event data, time in UTC), rendered once when
-- the entry is projected, so answering is one narrow SELECT in timeline
-- order. NULL for an alert that waits for its incident (rendered when it is
-- attached) and for the rows projected before this migration (rendered,
-- and saved, the first time their incident's timeline is read).
ALTER TABLE pm_timeline ADD COLUMN entry_json TEXT;
CREATE INDEX pm_timeline_unrendered ON pm_timeline (incident_id) WHERE entry_json IS NULL;

-- +goose Down
DROP INDEX pm_timeline_unrendered;
ALTER TABLE pm_timeline DROP COLUMN entry_json;
