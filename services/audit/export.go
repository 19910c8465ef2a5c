package audit

import (
	"bufio"
	"crypto/ed25519"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
)

// ExportFormat names the JSONL export format in its header line.
const ExportFormat = "firebreak-audit-export/v1"

// ExportHeader is the first line of a JSONL export.
type ExportHeader struct {
	Format     string    `json:"format"`
	ExportedAt time.Time `json:"exported_at"`
	// PublicKey is the key the server says signed the checkpoints; an
	// offline verifier uses its own copy, never this one.
	PublicKey string `json:"public_key,omitempty"`
	// Filtered is true when records were selected by type, actor or
	// incident, so seq numbers have gaps by design.
	Filtered bool `json:"filtered"`
}

// ExportLine is one line of a JSONL export: exactly one field is set.
type ExportLine struct {
	Header     *ExportHeader `json:"header,omitempty"`
	Record     *Record       `json:"record,omitempty"`
	Checkpoint *Checkpoint   `json:"checkpoint,omitempty"`
}

// JSONLWriter writes a JSONL export: the header, then records and the
// checkpoints among them in seq order (a checkpoint after its record).
type JSONLWriter struct {
	enc *json.Encoder
}

// NewJSONLWriter writes h and returns the writer of the rest.
func NewJSONLWriter(w io.Writer, h ExportHeader) (*JSONLWriter, error) {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	h.Format = ExportFormat
	if err := enc.Encode(ExportLine{Header: &h}); err != nil {
		return nil, err
	}
	return &JSONLWriter{enc: enc}, nil
}

// Record writes one record.
func (j *JSONLWriter) Record(r Record) error { return j.enc.Encode(ExportLine{Record: &r}) }

// Checkpoint writes one checkpoint.
func (j *JSONLWriter) Checkpoint(c Checkpoint) error { return j.enc.Encode(ExportLine{Checkpoint: &c}) }

// CSVColumns are the columns of a CSV export.
var CSVColumns = []string{"seq", "recorded_at", "msg_id", "type", "subject", "actor_kind", "actor_id", "incident_id", "prev_hash", "hash", "entry"}

// CSVWriter writes records as CSV (for spreadsheets; verify JSONL exports).
type CSVWriter struct{ w *csv.Writer }

// NewCSVWriter writes the header row.
func NewCSVWriter(w io.Writer) (*CSVWriter, error) {
	c := csv.NewWriter(w)
	return &CSVWriter{w: c}, c.Write(CSVColumns)
}

// Record writes one row.
func (c *CSVWriter) Record(r Record) error {
	return c.w.Write([]string{strconv.FormatInt(r.Seq, 10), r.RecordedAt.UTC().Format(time.RFC3339Nano), r.MsgID, r.Type,
		r.Subject, r.ActorKind, r.ActorID, r.IncidentID, r.PrevHash, r.Hash, r.Entry})
}

// Flush flushes the rows.
func (c *CSVWriter) Flush() error {
	c.w.Flush()
	return c.w.Error()
}

// MaxExportLine bounds one line of an export being verified.
const MaxExportLine = 16 << 20

// VerifyExport checks a JSONL export with only the public key: every
// record's hash and columns against its entry, the links between
// consecutive records, and every checkpoint's signature and hash. A run of
// consecutive records is authenticated up to the last checkpoint inside
// it; Report.SignedThrough is the highest record so covered. An unfiltered
// export must be one gap-free run. The error is for an unreadable file.
func VerifyExport(r io.Reader, pub ed25519.PublicKey) (Report, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), MaxExportLine)
	var (
		rep      Report
		header   *ExportHeader
		c        *chainCheck
		byHash   = map[int64]string{}
		line     int
		lastSeq  int64
		problem  = func(p *Problem) (Report, error) { rep.OK = false; rep.Problem = p; return rep, nil }
		runStart int64
	)
	for sc.Scan() {
		line++
		if len(sc.Bytes()) == 0 {
			continue
		}
		var l ExportLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return rep, fmt.Errorf("line %d: %w", line, err)
		}
		switch {
		case l.Header != nil:
			if line != 1 || l.Header.Format != ExportFormat {
				return rep, fmt.Errorf("line %d: not a %s header", line, ExportFormat)
			}
			header = l.Header
		case header == nil:
			return rep, fmt.Errorf("line %d: the export has no header line", line)
		case l.Record != nil:
			rec := *l.Record
			if c == nil || rec.Seq != lastSeq+1 {
				if c != nil && !header.Filtered && rec.Seq > lastSeq {
					return problem(&Problem{Seq: lastSeq + 1, Reason: fmt.Sprintf("record missing from the export: next record is %d", rec.Seq)})
				}
				if rec.Seq <= lastSeq {
					return problem(&Problem{Seq: rec.Seq, Reason: fmt.Sprintf("record out of order after %d", lastSeq)})
				}
				// A new run starts at whatever this record says came before.
				c = newChainCheck(rec.Seq-1, rec.PrevHash)
				runStart = rec.Seq
				if rep.From == 0 {
					rep.From = rec.Seq
				}
				// The record before may be pinned by a checkpoint already seen.
				if h, ok := byHash[rec.Seq-1]; ok && h != rec.PrevHash {
					return problem(&Problem{Seq: rec.Seq, Reason: "prev_hash does not match the checkpoint before it"})
				}
			}
			if p := c.add(rec); p != nil {
				return problem(p)
			}
			byHash[rec.Seq] = rec.Hash
			lastSeq = rec.Seq
			rep.Records++
			rep.To = rec.Seq
		case l.Checkpoint != nil:
			cp := *l.Checkpoint
			if err := cp.VerifySignature(pub); err != nil {
				return problem(&Problem{Seq: cp.Seq, Reason: err.Error()})
			}
			h, ok := byHash[cp.Seq]
			if !ok {
				// The anchor just before the first record: pins that
				// record's prev_hash once it arrives.
				byHash[cp.Seq] = cp.Hash
				continue
			}
			if h != cp.Hash {
				return problem(&Problem{Seq: cp.Seq, Reason: fmt.Sprintf("checkpoint says hash %s, export has %s", short(cp.Hash), short(h))})
			}
			rep.Checkpoints++
			if cp.Seq >= runStart && cp.Seq > rep.SignedThrough {
				rep.SignedThrough = cp.Seq
			}
		default:
			return rep, fmt.Errorf("line %d: neither header, record nor checkpoint", line)
		}
	}
	if err := sc.Err(); err != nil {
		return rep, err
	}
	if header == nil {
		return rep, errors.New("empty export")
	}
	rep.OK = true
	return rep, nil
}
