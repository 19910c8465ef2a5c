//go:build race

package vuln_test

// raceEnabled shrinks the big import test under the race detector, which
// slows SQLite writes about twentyfold; the property it checks does not
// depend on the size.
const raceEnabled = true
