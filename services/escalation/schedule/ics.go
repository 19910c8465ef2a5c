package schedule

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"strings"
	"time"
	"unicode/utf8"
)

// icsTime is RFC 5545's UTC DATE-TIME form.
const icsTime = "20060102T150405Z"

// ICS renders shifts as an RFC 5545 iCalendar feed named calName: one VEVENT
// per shift with someone on call (gaps are skipped), times in UTC, CRLF line
// endings, lines folded at 75 octets and text escaped. now becomes every
// event's DTSTAMP. UIDs are uidPrefix plus the shift's start, user and
// source, so re-rendering the same schedule yields the same UIDs and calendar
// clients update events instead of duplicating them; render feeds from a
// fixed point (such as the start of a day) so the first shift is not clipped
// differently each time.
func ICS(calName string, shifts []Shift, uidPrefix string, now time.Time) []byte {
	var b bytes.Buffer
	line := func(name, value string) { writeFolded(&b, name+":"+value) }
	line("BEGIN", "VCALENDAR")
	line("VERSION", "2.0")
	line("PRODID", "-//firebreak//on-call schedule//EN")
	line("CALSCALE", "GREGORIAN")
	line("METHOD", "PUBLISH")
	line("NAME", escapeText(calName))
	line("X-WR-CALNAME", escapeText(calName))
	stamp := now.UTC().Format(icsTime)
	for _, s := range shifts {
		if s.User == "" {
			continue
		}
		line("BEGIN", "VEVENT")
		line("UID", escapeText(shiftUID(uidPrefix, s)))
		line("DTSTAMP", stamp)
		line("DTSTART", s.Start.UTC().Format(icsTime))
		line("DTEND", s.End.UTC().Format(icsTime))
		line("SUMMARY", escapeText("On call: "+s.User))
		line("DESCRIPTION", escapeText("Source: "+s.Source.String()))
		// Being on call is not being busy.
		line("TRANSP", "TRANSPARENT")
		line("END", "VEVENT")
	}
	line("END", "VCALENDAR")
	return b.Bytes()
}

// ForUser returns the shifts in which user is on call, for a per-user feed.
func ForUser(shifts []Shift, user string) []Shift {
	var out []Shift
	for _, s := range shifts {
		if s.User == user && user != "" {
			out = append(out, s)
		}
	}
	return out
}

func shiftUID(prefix string, s Shift) string {
	h := fnv.New64a()
	h.Write([]byte(s.User))
	h.Write([]byte{0})
	h.Write([]byte(s.Source.String()))
	return fmt.Sprintf("%s-%s-%016x", prefix, s.Start.UTC().Format(icsTime), h.Sum64())
}

// escapeText escapes an RFC 5545 TEXT value (section 3.3.11): backslash,
// semicolon and comma are backslash-escaped, line breaks become \n, and other
// control characters, which TEXT may not hold, are dropped.
func escapeText(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\', ';', ',':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\r':
			if i+1 < len(s) && s[i+1] == '\n' {
				i++
			}
			b.WriteString(`\n`)
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteByte(c)
		default:
			if c < 0x20 || c == 0x7f {
				continue
			}
			b.WriteByte(c)
		}
	}
	return b.String()
}

// writeFolded writes one content line ending in CRLF, folded so no physical
// line exceeds 75 octets (RFC 5545 section 3.1); continuation lines start
// with a space. It never splits a UTF-8 sequence.
func writeFolded(b *bytes.Buffer, s string) {
	const limit = 75
	max := limit
	for len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		b.WriteString(s[:cut])
		b.WriteString("\r\n ")
		s = s[cut:]
		max = limit - 1 // the leading space counts
	}
	b.WriteString(s)
	b.WriteString("\r\n")
}
