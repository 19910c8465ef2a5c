// Package schemas embeds firebreak's contracts that are not Go code: the goose
// migrations of every service (sql/<service>/<engine>/) and the JSON Schema of
// every event type (events/<type>.json).
package schemas

import "embed"

// SQL holds the goose migrations as sql/<service>/<engine>/NNNNN_name.sql.
//
//go:embed sql
var SQL embed.FS

// Events holds one JSON Schema per event or command type as events/<type>.json.
//
//go:embed events
var Events embed.FS
