-- name: Placeholder :one
SELECT 1;
