-- +goose Up
-- When the owner of an overdue action item was paged (action_item.page_due
-- emitted); NULL while not paged for its current due date.
ALTER TABLE pm_action_items ADD COLUMN paged_at TEXT;

-- +goose Down
ALTER TABLE pm_action_items DROP COLUMN paged_at;
