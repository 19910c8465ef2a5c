package audit

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// Canonicalize returns the canonical form of a JSON document, in the manner
// of RFC 8785 (JCS): object members sorted by the UTF-16 code units of
// their names, no insignificant whitespace, strings with only the escapes
// JSON requires, numbers in the shortest form that round-trips an IEEE
// double (as ECMAScript prints them). Duplicate member names are an error.
// Like encoding/json, it reads invalid UTF-8 and lone surrogates as U+FFFD.
func Canonicalize(doc []byte) ([]byte, error) {
	p := parsers.Get().(*canonParser)
	p.in, p.i = doc, 0
	defer func() {
		p.in = nil
		parsers.Put(p)
	}()
	out := make([]byte, 0, len(doc))
	out, err := p.value(out, 0)
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i != len(p.in) {
		return nil, errors.New("canonical json: trailing data after the document")
	}
	return out, nil
}

// parsers keeps parsers, with their buffers, between documents: the audit
// service canonicalizes every record it appends.
var parsers = sync.Pool{New: func() any { return &canonParser{} }}

// A parser keeps at most maxFree buffers of at most maxFreeBuf bytes for
// reuse, so a huge document does not stay in memory through the pool.
const (
	maxFree    = 256
	maxFreeBuf = 64 << 10
)

// maxDepth bounds nesting, as encoding/json does.
const maxDepth = 10000

type canonParser struct {
	in []byte
	i  int
	// free holds buffers member values were written to, for the next
	// object's members.
	free [][]byte
}

// buf returns an empty buffer for one member's value.
func (p *canonParser) buf() []byte {
	if n := len(p.free); n > 0 {
		b := p.free[n-1]
		p.free = p.free[:n-1]
		return b[:0]
	}
	return make([]byte, 0, 64)
}

// release gives a member value's buffer back.
func (p *canonParser) release(b []byte) {
	if cap(b) <= maxFreeBuf && len(p.free) < maxFree {
		p.free = append(p.free, b)
	}
}

func (p *canonParser) errf(format string, args ...any) error {
	return fmt.Errorf("canonical json: offset %d: %s", p.i, fmt.Sprintf(format, args...))
}

func (p *canonParser) space() {
	for p.i < len(p.in) {
		switch p.in[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *canonParser) value(out []byte, depth int) ([]byte, error) {
	if depth > maxDepth {
		return nil, p.errf("nested too deeply")
	}
	p.space()
	if p.i >= len(p.in) {
		return nil, p.errf("unexpected end of input")
	}
	switch c := p.in[p.i]; {
	case c == '{':
		return p.object(out, depth)
	case c == '[':
		p.i++
		out = append(out, '[')
		p.space()
		if p.i < len(p.in) && p.in[p.i] == ']' {
			p.i++
			return append(out, ']'), nil
		}
		for {
			var err error
			if out, err = p.value(out, depth+1); err != nil {
				return nil, err
			}
			p.space()
			if p.i >= len(p.in) {
				return nil, p.errf("unexpected end of input in array")
			}
			switch p.in[p.i] {
			case ',':
				p.i++
				out = append(out, ',')
			case ']':
				p.i++
				return append(out, ']'), nil
			default:
				return nil, p.errf("want , or ] in array")
			}
		}
	case c == '"':
		s, err := p.str()
		if err != nil {
			return nil, err
		}
		return appendString(out, s), nil
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number(out)
	}
	for _, lit := range []string{"true", "false", "null"} {
		if bytes.HasPrefix(p.in[p.i:], []byte(lit)) {
			p.i += len(lit)
			return append(out, lit...), nil
		}
	}
	return nil, p.errf("invalid character %q", p.in[p.i])
}

func (p *canonParser) object(out []byte, depth int) ([]byte, error) {
	p.i++ // {
	var stack [16]member
	members := stack[:0]
	defer func() {
		for _, m := range members {
			p.release(m.value)
		}
	}()
	p.space()
	if p.i < len(p.in) && p.in[p.i] == '}' {
		p.i++
		return append(out, '{', '}'), nil
	}
	for {
		p.space()
		if p.i >= len(p.in) || p.in[p.i] != '"' {
			return nil, p.errf("want a member name")
		}
		name, err := p.str()
		if err != nil {
			return nil, err
		}
		p.space()
		if p.i >= len(p.in) || p.in[p.i] != ':' {
			return nil, p.errf("want : after a member name")
		}
		p.i++
		v, err := p.value(p.buf(), depth+1)
		if err != nil {
			return nil, err
		}
		members = append(members, member{name: name, value: v})
		p.space()
		if p.i >= len(p.in) {
			return nil, p.errf("unexpected end of input in object")
		}
		if p.in[p.i] == ',' {
			p.i++
			continue
		}
		if p.in[p.i] != '}' {
			return nil, p.errf("want , or } in object")
		}
		p.i++
		break
	}
	slices.SortFunc(members, func(a, b member) int { return compareUTF16(a.name, b.name) })
	out = append(out, '{')
	for i, m := range members {
		if i > 0 {
			if members[i-1].name == m.name {
				return nil, fmt.Errorf("canonical json: duplicate member %q", m.name)
			}
			out = append(out, ',')
		}
		out = appendString(out, m.name)
		out = append(out, ':')
		out = append(out, m.value...)
	}
	return append(out, '}'), nil
}

// str reads a JSON string at p.i and returns its value.
func (p *canonParser) str() (string, error) {
	p.i++ // opening quote
	start := p.i
	// Fast path: no escapes, ASCII or valid UTF-8.
	for p.i < len(p.in) {
		c := p.in[p.i]
		if c == '"' {
			s := p.in[start:p.i]
			if utf8.Valid(s) {
				p.i++
				// Without a copy: the string is read only while the
				// document is canonicalized (appendString copies it).
				return unsafe.String(unsafe.SliceData(s), len(s)), nil
			}
			break
		}
		if c == '\\' || c < 0x20 {
			break
		}
		p.i++
	}
	p.i = start
	var b []byte
	for {
		if p.i >= len(p.in) {
			return "", p.errf("unterminated string")
		}
		c := p.in[p.i]
		switch {
		case c == '"':
			p.i++
			return string(b), nil
		case c < 0x20:
			return "", p.errf("control character in string")
		case c == '\\':
			if p.i+1 >= len(p.in) {
				return "", p.errf("unterminated escape")
			}
			e := p.in[p.i+1]
			p.i += 2
			switch e {
			case '"', '\\', '/':
				b = append(b, e)
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				r, ok := p.hex4()
				if !ok {
					return "", p.errf("bad \\u escape")
				}
				if utf16.IsSurrogate(r) {
					r2 := rune(-1)
					if p.i+1 < len(p.in) && p.in[p.i] == '\\' && p.in[p.i+1] == 'u' {
						save := p.i
						p.i += 2
						if x, ok := p.hex4(); ok {
							r2 = x
						} else {
							return "", p.errf("bad \\u escape")
						}
						if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
							b = utf8.AppendRune(b, d)
							continue
						}
						p.i = save
					}
					r = utf8.RuneError
				}
				b = utf8.AppendRune(b, r)
			default:
				return "", p.errf("bad escape \\%c", e)
			}
		default:
			r, size := utf8.DecodeRune(p.in[p.i:])
			p.i += size
			b = utf8.AppendRune(b, r) // invalid UTF-8 becomes U+FFFD
		}
	}
}

func (p *canonParser) hex4() (rune, bool) {
	if p.i+4 > len(p.in) {
		return 0, false
	}
	var r rune
	for _, c := range p.in[p.i : p.i+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	p.i += 4
	return r, true
}

// number reads a number with JSON's grammar and writes its canonical form.
func (p *canonParser) number(out []byte) ([]byte, error) {
	start := p.i
	digits := func() int {
		n := 0
		for p.i < len(p.in) && p.in[p.i] >= '0' && p.in[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	if p.in[p.i] == '-' {
		p.i++
	}
	if p.i < len(p.in) && p.in[p.i] == '0' {
		p.i++
	} else if digits() == 0 {
		return nil, p.errf("bad number")
	}
	integer := true
	if p.i < len(p.in) && p.in[p.i] == '.' {
		p.i++
		integer = false
		if digits() == 0 {
			return nil, p.errf("bad number")
		}
	}
	if p.i < len(p.in) && (p.in[p.i] == 'e' || p.in[p.i] == 'E') {
		p.i++
		integer = false
		if p.i < len(p.in) && (p.in[p.i] == '+' || p.in[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			return nil, p.errf("bad number")
		}
	}
	lit := p.in[start:p.i]
	// Short integers are their own canonical form (but -0 is 0).
	if integer && len(lit) <= 15 {
		if string(lit) == "-0" {
			return append(out, '0'), nil
		}
		return append(out, lit...), nil
	}
	s, err := canonNumber(string(lit))
	if err != nil {
		return nil, err
	}
	return append(out, s...), nil
}

type member struct {
	name  string
	value []byte
}

// compareUTF16 orders strings by their UTF-16 code units, as JCS sorts
// member names. Byte order agrees except between supplementary characters
// and U+E000…U+FFFF, so the slow path runs only for non-ASCII names.
func compareUTF16(a, b string) int {
	ascii := func(s string) bool {
		for i := 0; i < len(s); i++ {
			if s[i] >= utf8.RuneSelf {
				return false
			}
		}
		return true
	}
	if ascii(a) && ascii(b) {
		switch {
		case a < b:
			return -1
		case a > b:
			return 1
		}
		return 0
	}
	return slices.Compare(utf16.Encode([]rune(a)), utf16.Encode([]rune(b)))
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string with the escapes JCS prescribes:
// \" \\ \b \f \n \r \t, \u00XX for other control characters, nothing else.
func appendString(out []byte, s string) []byte {
	out = append(out, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		out = append(out, s[start:i]...)
		switch c {
		case '"':
			out = append(out, '\\', '"')
		case '\\':
			out = append(out, '\\', '\\')
		case '\b':
			out = append(out, '\\', 'b')
		case '\f':
			out = append(out, '\\', 'f')
		case '\n':
			out = append(out, '\\', 'n')
		case '\r':
			out = append(out, '\\', 'r')
		case '\t':
			out = append(out, '\\', 't')
		default:
			out = append(out, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	out = append(out, s[start:]...)
	return append(out, '"')
}

// canonNumber prints n as ECMAScript prints the double it denotes.
func canonNumber(n string) (string, error) {
	f, err := strconv.ParseFloat(n, 64)
	if err != nil || math.IsInf(f, 0) {
		return "", fmt.Errorf("canonical json: number %s is not an IEEE double", n)
	}
	if f == 0 {
		return "0", nil // also -0
	}
	abs := math.Abs(f)
	if abs >= 1e-6 && abs < 1e21 {
		return strconv.FormatFloat(f, 'f', -1, 64), nil
	}
	s := strconv.FormatFloat(f, 'e', -1, 64) // 1e+21, 1.5e-07
	mant, exp, _ := bytes.Cut([]byte(s), []byte("e"))
	sign := exp[0]
	digits := bytes.TrimLeft(exp[1:], "0")
	return string(mant) + "e" + string(sign) + string(digits), nil
}
