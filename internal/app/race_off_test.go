//go:build !race

package app_test

// stormAlerts is how many alerts TestAlertStormCoalesced sends (see
// race_on_test.go).
const stormAlerts = 50_000
