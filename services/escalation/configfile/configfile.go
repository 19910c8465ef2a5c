// Package configfile reads and writes the paging configuration
// (escalation.Config) as the YAML file `firebreak apply -f` takes and
// `firebreak export` writes. docs/configuration-as-code.md describes the
// format for users; in short:
//
//	services:
//	  - name: checkout                  # the service name alerts carry
//	    description: Checkout API
//	    escalation_policy: checkout-primary
//	    ack_timeout: 30m                # Go duration; 0 or absent: never
//	    severity_map: {warning: SEV3}   # alert severity → SEV1..SEV4
//	    alert_grouping:                 # fold related alerts into one incident
//	      by: [labels.cluster, source]  # fields that must be equal
//	      window: 30m                   # since the incident opened; 0: while open
//	users:
//	  - id: alice
//	    name: Alice Doe
//	    email: alice@example.com
//	    time_zone: Europe/Berlin
//	    contact_methods:
//	      - {name: slack, type: slack, address: U024BE7LH}   # slack|email|webhook|teams
//	    notification_rules:
//	      - {contact_method: slack, delay: 0m}              # whole minutes
//	schedules:
//	  - name: checkout-oncall
//	    time_zone: Europe/Berlin
//	    layers:
//	      - name: primary
//	        participants: [alice, bob]
//	        start: 2026-01-05 09:00       # in the schedule's zone, or RFC 3339
//	        shift: 1w                     # Nh, Nd or Nw
//	        restrictions:                 # optional
//	          - {days: [mon, tue, wed, thu, fri], from: "09:00", to: "17:00"}
//	          - {daily: true, from: "22:00", to: "06:00"}   # to < from: past midnight
//	          - {days: [fri], from: "18:00", duration: 63h}  # longer than a day
//	    overrides:
//	      - {id: swap-1, user: bob, start: 2026-02-14 09:00, end: 2026-02-15 09:00}
//	policies:
//	  - name: checkout-primary
//	    repeat: 2                         # run the levels 2 more times
//	    levels:
//	      - delay: 15m                    # whole minutes, at least 1m
//	        targets:
//	          - schedule: checkout-oncall
//	          - slack_channel: "#checkout"  # quote: # starts a comment
//	          - slack_usergroup: "@oncall-web"
//	      - delay: 30m
//	        targets: [{user: alice}]
//	maintenance_windows:
//	  - {id: db-upgrade, service: checkout, start: 2026-01-10T22:00:00Z, end: 2026-01-11T02:00:00Z, reason: upgrade}
//
// Field names are those of the JSON API, except that delays are durations
// named delay (delay_minutes in JSON), a target is one key naming its type,
// a shift is one word, and restrictions name days and clock times. A weekly
// restriction entry stands for one schedule.Restriction per listed day;
// Marshal groups consecutive weekly restrictions with the same hours back
// into one entry.
//
// Parse is strict: an unknown or duplicate field, a value of the wrong type, a
// malformed duration, day or time is an error naming the line. Meaning —
// references, time zones, limits — is escalation.Validate's job; the Index
// Parse returns maps Validate's field paths (and the server's) back to lines.
package configfile

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Error is one problem Parse found, at a line of the file.
type Error struct {
	// Line is the 1-based line number, 0 when unknown.
	Line int
	// Msg says what is wrong, naming the field's path.
	Msg string
}

// Error returns "line N: msg".
func (e *Error) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// Errors returns the *Error values in an error Parse returned (several are
// joined with errors.Join).
func Errors(err error) []*Error {
	var out []*Error
	var walk func(error)
	walk = func(err error) {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		var e *Error
		if errors.As(err, &e) {
			out = append(out, e)
		} else if err != nil {
			out = append(out, &Error{Msg: err.Error()})
		}
	}
	walk(err)
	return out
}

// Index maps field paths of a parsed file ("policies[0].levels[1].targets",
// with JSON names) to the lines they were read from.
type Index struct {
	lines map[string]int
}

// Line returns the line of path, or of its closest enclosing node that the
// file has ("users[2].contact_methods[0].address" falls back to
// "users[2].contact_methods[0]", then "users[2]" …). It returns 0 when not
// even the top-level list is in the file.
func (x *Index) Line(path string) int {
	if x == nil {
		return 0
	}
	for path != "" {
		if l, ok := x.lines[path]; ok {
			return l
		}
		path = parent(path)
	}
	return 0
}

// parent strips the last element of a path: ".name", "[3]" or `["key"]`.
func parent(path string) string {
	if strings.HasSuffix(path, "]") {
		if i := strings.LastIndex(path, `["`); i >= 0 && strings.HasSuffix(path, `"]`) {
			if _, err := strconv.Unquote(path[i+1 : len(path)-1]); err == nil {
				return path[:i]
			}
		}
		if i := strings.LastIndexByte(path, '['); i >= 0 {
			return path[:i]
		}
	}
	if i := strings.LastIndexAny(path, ".["); i >= 0 {
		return path[:i]
	}
	return ""
}

// yamlLineRE finds the line yaml.v3 names in its syntax errors.
var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
