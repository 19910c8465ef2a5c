-- +goose Up
-- A service's alert grouping rule as JSON ({"by": [...], "window_ms": N}),
-- '' for none.
ALTER TABLE esc_services ADD COLUMN alert_grouping TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE esc_services DROP COLUMN alert_grouping;
