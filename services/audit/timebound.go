package audit

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// maxRelative bounds a relative time: 100 years back is before any log.
const maxRelative = 100 * 365 * 24 * time.Hour

// relativeUnits are the units a relative time takes.
var relativeUnits = map[byte]time.Duration{
	's': time.Second, 'm': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour, 'w': 7 * 24 * time.Hour,
}

// ParseTimeBound reads a --since or --until value: an RFC 3339 time
// (2026-03-02T09:00:00Z) or a duration back from now, a whole number and
// one unit: s, m, h, d (24 hours) or w (7 days), e.g. 30d, 12h, 90m. The
// error says what is wrong without repeating the field's name.
func ParseTimeBound(v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, errors.New("must not be empty")
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	} else if strings.ContainsAny(v, "-:T") {
		return time.Time{}, fmt.Errorf("must be an RFC 3339 time such as 2026-03-02T09:00:00Z or a duration back from now such as 30d, 12h or 90m; %q is not a valid RFC 3339 time", v)
	}
	unit, ok := relativeUnits[v[len(v)-1]]
	digits := v[:len(v)-1]
	if !ok || digits == "" || strings.TrimLeft(digits, "0123456789") != "" {
		return time.Time{}, fmt.Errorf("must be an RFC 3339 time such as 2026-03-02T09:00:00Z or a duration back from now: a whole number and a unit (s, m, h, d, w) such as 30d, 12h or 90m; got %q", v)
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || n > int64(maxRelative/unit) {
		return time.Time{}, fmt.Errorf("duration %q is more than 100 years", v)
	}
	return now.Add(-time.Duration(n) * unit), nil
}
