//go:build race

package app_test

// stormAlerts is how many alerts TestAlertStormCoalesced sends. Under the
// race detector every step (HTTP, JSON, the pure-Go SQLite) runs about 20
// times slower, so the storm is smaller there; without -race it is the
// issue's 50 000.
const stormAlerts = 1_000
