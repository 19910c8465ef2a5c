package postmortem

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"
)

// EntryJSON renders an entry as the default JSON timeline lists it: without
// its event data, its time in UTC, HTML characters unescaped — byte for
// byte what encoding the entry in TimelineJSON writes. The stores keep it
// with the entry, so the default answer is their concatenation.
func EntryJSON(e Entry) ([]byte, error) {
	e.Details = nil
	e.At = e.At.UTC()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(e); err != nil {
		return nil, fmt.Errorf("render timeline entry %s: %w", e.EventID, err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// timeKey opens an entry's time in its JSON. It cannot occur inside the
// strings before it (event and incident ids): a quote in a string is
// escaped, so "time" there would be followed by a backslash.
var timeKey = []byte(`,"time":"`)

// appendEntryIn appends entry (as EntryJSON renders it) with its time in
// loc.
func appendEntryIn(dst, entry []byte, loc *time.Location) ([]byte, error) {
	i := bytes.Index(entry, timeKey)
	if i < 0 {
		return dst, fmt.Errorf("stored timeline entry without a time: %.80s", entry)
	}
	start := i + len(timeKey)
	end := bytes.IndexByte(entry[start:], '"')
	if end < 0 {
		return dst, fmt.Errorf("stored timeline entry with an unterminated time: %.80s", entry)
	}
	end += start
	t, err := time.Parse(time.RFC3339Nano, string(entry[start:end]))
	if err != nil {
		return dst, fmt.Errorf("stored timeline entry: %w", err)
	}
	dst = append(dst, entry[:start]...)
	dst = t.In(loc).AppendFormat(dst, time.RFC3339Nano)
	return append(dst, entry[end:]...), nil
}

// entryBufs keeps the buffers the default timelines are assembled in for
// the next answers: a 10 000-entry timeline is about 3 MiB, and
// allocating (and growing) that afresh for every answer is most of what
// the garbage collector then has to do. A sync.Pool would not do: it is
// emptied by every collection, and answers this size come far apart in
// allocations terms. At most cap(entryBufs) buffers of at most
// maxKeptBuf each are kept.
var entryBufs = make(chan *[]byte, 4)

// maxKeptBuf is the largest buffer kept; a rare huge timeline does not pin
// its memory.
const maxKeptBuf = 16 << 20

// lastBodySize sizes a fresh buffer: the last answer's size and a margin,
// so a buffer is rarely grown (and copied) while it is filled.
var lastBodySize atomic.Int64

func getBuf() *[]byte {
	select {
	case b := <-entryBufs:
		return b
	default:
		b := make([]byte, 0, lastBodySize.Load()*9/8)
		return &b
	}
}

func putBuf(b *[]byte) {
	lastBodySize.Store(int64(len(*b)))
	if cap(*b) > maxKeptBuf {
		return
	}
	*b = (*b)[:0]
	select {
	case entryBufs <- b:
	default:
	}
}

// TimelineAnswer is the default JSON timeline of an incident (no event
// data), assembled and ready to write. Close gives its memory back.
type TimelineAnswer struct {
	// Incident is the incident as read after its entries.
	Incident Incident
	// Entries is how many entries it lists.
	Entries int
	// ETag is its entity tag (see TimelineETag).
	ETag string
	head []byte // {"incident":…,"durations":{…},"entries":[
	body *[]byte
}

// tail closes what head opened, with the newline json.Encoder ends with.
var tail = []byte("]}\n")

// Len is the answer's size in bytes.
func (a *TimelineAnswer) Len() int { return len(a.head) + len(*a.body) + len(tail) }

// WriteTo writes the answer to w.
func (a *TimelineAnswer) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for _, p := range [][]byte{a.head, *a.body, tail} {
		n, err := w.Write(p)
		total += int64(n)
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// Close returns the answer's buffer for reuse; the answer is unusable
// afterwards.
func (a *TimelineAnswer) Close() {
	if a.body == nil {
		return
	}
	putBuf(a.body)
	a.body = nil
}

// TimelineJSON assembles the default JSON timeline of an incident — the
// answer GET /api/v1/incidents/{ref}/timeline gives without details —
// from the entries' stored JSON, with times in loc. It is byte for byte
// what encoding TimelineOf(inc, entries, loc) gives, without decoding or
// re-encoding any entry in UTC, and only moving each entry's time in
// another zone.
func (s *Service) TimelineJSON(ctx context.Context, ref string, loc *time.Location) (*TimelineAnswer, error) {
	inc, err := s.ResolveIncident(ctx, ref)
	if err != nil {
		return nil, err
	}
	body := getBuf()
	a := &TimelineAnswer{body: body}
	utc := loc == time.UTC
	add := func(dst, entry []byte) ([]byte, error) {
		if len(dst) > 0 {
			dst = append(dst, ',')
		}
		if utc {
			return append(dst, entry...), nil
		}
		return appendEntryIn(dst, entry, loc)
	}
	*body, a.Entries, err = s.store.TimelineJSON(ctx, inc.ID, (*body)[:0], add)
	if err != nil {
		a.Close()
		return nil, fmt.Errorf("timeline of %s: %w", inc.Key(), err)
	}
	// The projection again, read after the entries, as Timeline does.
	if inc, err = s.store.IncidentGet(ctx, inc.ID); err != nil {
		a.Close()
		return nil, err
	}
	a.Incident = inc
	head, err := timelineHead(inc, loc)
	if err != nil {
		a.Close()
		return nil, err
	}
	a.head = head
	a.ETag = timelineETag(head, int64(a.Entries))
	return a, nil
}

// timelineHead is the default JSON timeline up to its first entry.
func timelineHead(inc Incident, loc *time.Location) ([]byte, error) {
	var h bytes.Buffer
	enc := json.NewEncoder(&h)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(TimelineOf(inc, []Entry{}, loc)); err != nil {
		return nil, err
	}
	head, ok := bytes.CutSuffix(h.Bytes(), tail)
	if !ok {
		return nil, fmt.Errorf("timeline of %s: unexpected JSON head %.80q", inc.Key(), h.Bytes())
	}
	return head, nil
}

// timelineETag tags a default JSON timeline by what it is made of: the
// incident as shown (and the zone, both in head) and the number of
// entries, which names the list because entries are only ever added.
func timelineETag(head []byte, entries int64) string {
	sum := sha256.Sum256(head)
	return fmt.Sprintf(`"tl-%d-%x"`, entries, sum[:12])
}

// TimelineETag is the entity tag TimelineJSON would give the incident's
// default JSON timeline in loc now, without reading the entries: a
// conditional request (If-None-Match) is answered 304 with it.
func (s *Service) TimelineETag(ctx context.Context, ref string, loc *time.Location) (string, error) {
	inc, err := s.ResolveIncident(ctx, ref)
	if err != nil {
		return "", err
	}
	n, err := s.store.TimelineLen(ctx, inc.ID)
	if err != nil {
		return "", err
	}
	// The incident after the count, as TimelineJSON reads it after the
	// entries.
	if inc, err = s.store.IncidentGet(ctx, inc.ID); err != nil {
		return "", err
	}
	head, err := timelineHead(inc, loc)
	if err != nil {
		return "", err
	}
	return timelineETag(head, n), nil
}

// etagMatches reports whether an If-None-Match header value names tag
// (weak comparison, as RFC 9110 asks for If-None-Match).
func etagMatches(header, tag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == tag {
			return true
		}
	}
	return false
}
