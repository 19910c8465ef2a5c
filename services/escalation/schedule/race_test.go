//go:build race

package schedule

// raceEnabled trims the property test, which is single-threaded and ten
// times slower under the race detector.
const raceEnabled = true
