package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/fault"
)

// Hash links entry to the record before it: the hex SHA-256 of prevHash (as
// its hex text) followed by entry.
func Hash(prevHash, entry string) string {
	h := sha256.New()
	h.Write([]byte(prevHash))
	h.Write([]byte(entry))
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0]))
}

// NewRecord builds the record of env without its place in the chain (Seq,
// PrevHash and Hash are the store's to set under its append lock).
func NewRecord(env events.Envelope, recordedAt time.Time) (Record, error) {
	raw, err := env.Encode()
	if err != nil {
		return Record{}, fmt.Errorf("encode %s %s: %w", env.Type, env.ID, err)
	}
	entry, err := Canonicalize(raw)
	if err != nil {
		return Record{}, fault.Wrap(ErrBadEntry, "%s %s: %v", env.Type, env.ID, err)
	}
	r := Record{RecordedAt: recordedAt.UTC().Truncate(time.Microsecond), Entry: string(entry)}
	r.fill(env)
	return r, nil
}

// NewRecords builds the records of envs with NewRecord; the error of the
// first envelope that fails is returned. An empty envs gives no records
// and no error. A large batch is built on all CPUs: each record depends
// only on its own envelope (the chain is linked later, in order, by the
// store), and this is the CPU-heavy part of an append (encoding and
// canonical JSON), done outside its transaction.
func NewRecords(envs []events.Envelope, recordedAt time.Time) ([]Record, error) {
	recs := make([]Record, len(envs))
	errs := make([]error, len(envs))
	n := min(runtime.GOMAXPROCS(0), max(1, len(envs)/newRecordsPerWorker))
	build := func(lo, hi int) {
		for i := lo; i < hi; i++ {
			recs[i], errs[i] = NewRecord(envs[i], recordedAt)
		}
	}
	if n == 1 {
		build(0, len(envs))
	} else {
		var wg sync.WaitGroup
		for w := range n {
			lo, hi := w*len(envs)/n, (w+1)*len(envs)/n
			wg.Go(func() { build(lo, hi) })
		}
		wg.Wait()
	}
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return recs, nil
}

// newRecordsPerWorker is the fewest envelopes NewRecords gives a goroutine
// of its own.
const newRecordsPerWorker = 128

// fill sets the columns a record derives from its envelope.
func (r *Record) fill(env events.Envelope) {
	r.MsgID, r.Type, r.Subject = env.ID, env.Type, env.Subject
	r.ActorKind, r.ActorID = string(env.Actor.Kind), env.Actor.ID
	r.IncidentID = incidentOf(env)
}

// incidentOf is the incident an envelope is about: data.incident_id when
// present; otherwise the subject of an incident event or command (an
// incident id, or for commands the reference the caller gave, e.g. INC-42).
func incidentOf(env events.Envelope) string {
	var d struct {
		IncidentID string `json:"incident_id"`
	}
	if len(env.Data) > 0 && env.Data[0] == '{' && json.Unmarshal(env.Data, &d) == nil && d.IncidentID != "" {
		return d.IncidentID
	}
	if strings.HasPrefix(env.Type, "incident.") && env.Type != events.CmdIncidentDeclare {
		return env.Subject
	}
	return ""
}

// Problem is the first thing verification found wrong.
type Problem struct {
	// Seq is the record at which the chain breaks.
	Seq int64 `json:"seq"`
	// Reason says what is wrong, e.g. "hash mismatch: entry was modified".
	Reason string `json:"reason"`
}

func (p *Problem) Error() string { return fmt.Sprintf("record %d: %s", p.Seq, p.Reason) }

// Report is the outcome of a verification.
type Report struct {
	OK bool `json:"ok"`
	// From and To are the first and last record checked; From-1 is the
	// anchor the chain was checked from.
	From int64 `json:"from"`
	To   int64 `json:"to"`
	// Records is how many records were checked.
	Records int64 `json:"records"`
	// Checkpoints is how many signed checkpoints matched the chain.
	Checkpoints int `json:"checkpoints"`
	// SignedThrough is the last record covered by a verified checkpoint
	// (0: none).
	SignedThrough int64 `json:"signed_through"`
	// Problem is the first bad record when OK is false.
	Problem *Problem `json:"problem,omitempty"`
}

// chainCheck walks records in order and reports the first that does not
// belong, whether the records come from a store or from an export.
type chainCheck struct {
	next int64  // expected seq
	prev string // expected prev_hash
	last Record
	rep  Report
}

func newChainCheck(anchorSeq int64, anchorHash string) *chainCheck {
	return &chainCheck{next: anchorSeq + 1, prev: anchorHash, rep: Report{From: anchorSeq + 1, To: anchorSeq}}
}

// add checks r and reports the problem it has, if any.
func (c *chainCheck) add(r Record) *Problem {
	return c.addChecked(r, checkRecord(r))
}

// addChecked is add for a record whose own problem (checkRecord, which
// needs nothing from the records before it) is already known: it checks
// the record's place in the chain, then reports own.
func (c *chainCheck) addChecked(r Record, own *Problem) *Problem {
	switch {
	case r.Seq > c.next:
		return &Problem{Seq: c.next, Reason: fmt.Sprintf("record missing (deleted?): next record is %d", r.Seq)}
	case r.Seq < c.next:
		return &Problem{Seq: r.Seq, Reason: fmt.Sprintf("record out of order or duplicated after %d", c.next-1)}
	case r.PrevHash != c.prev:
		return &Problem{Seq: r.Seq, Reason: fmt.Sprintf("prev_hash %s does not match the hash %s of the record before (inserted, removed or reordered record)", short(r.PrevHash), short(c.prev))}
	case own != nil:
		return own
	}
	c.next, c.prev, c.last = r.Seq+1, r.Hash, r
	c.rep.Records++
	c.rep.To = r.Seq
	return nil
}

// checkRecord checks what a record says about itself: its hash over its
// prev_hash and entry, and its columns against its entry.
func checkRecord(r Record) *Problem {
	if h := Hash(r.PrevHash, r.Entry); h != r.Hash {
		return &Problem{Seq: r.Seq, Reason: fmt.Sprintf("hash mismatch: stored %s, entry hashes to %s (entry or hash modified)", short(r.Hash), short(h))}
	}
	return checkColumns(r)
}

// checkRecords runs checkRecord on every record of a page, spread over
// the CPUs; the chain itself is then walked in order (addChecked).
func checkRecords(recs []Record) []*Problem {
	out := make([]*Problem, len(recs))
	n := min(runtime.GOMAXPROCS(0), max(1, len(recs)/256))
	var wg sync.WaitGroup
	for w := range n {
		lo, hi := w*len(recs)/n, (w+1)*len(recs)/n
		wg.Go(func() {
			for i := lo; i < hi; i++ {
				out[i] = checkRecord(recs[i])
			}
		})
	}
	wg.Wait()
	return out
}

// checkColumns makes sure the searchable columns say what the hashed entry
// says, so a modified type, actor or incident cannot hide a record.
func checkColumns(r Record) *Problem {
	// Only the fields the columns derive from: this runs once per record
	// on every verification.
	var env struct {
		ID      string          `json:"id"`
		Type    string          `json:"type"`
		Subject string          `json:"subject"`
		Actor   events.Actor    `json:"actor"`
		Data    json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal([]byte(r.Entry), &env); err != nil {
		return &Problem{Seq: r.Seq, Reason: "entry is not an envelope: " + err.Error()}
	}
	var want Record
	want.fill(events.Envelope{ID: env.ID, Type: env.Type, Subject: env.Subject, Actor: env.Actor, Data: env.Data})
	for _, f := range []struct{ name, got, want string }{
		{"msg_id", r.MsgID, want.MsgID}, {"type", r.Type, want.Type}, {"subject", r.Subject, want.Subject},
		{"actor_kind", r.ActorKind, want.ActorKind}, {"actor_id", r.ActorID, want.ActorID},
		{"incident_id", r.IncidentID, want.IncidentID},
	} {
		if f.got != f.want {
			return &Problem{Seq: r.Seq, Reason: fmt.Sprintf("column %s is %q but the hashed entry says %q", f.name, f.got, f.want)}
		}
	}
	return nil
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12] + "…"
	}
	if h == "" {
		return `""`
	}
	return h
}
