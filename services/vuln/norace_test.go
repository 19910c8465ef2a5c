//go:build !race

package vuln_test

const raceEnabled = false
