// Package audit is the tamper-evident audit log: it consumes every command
// (FB_CMD) and event (FB_EVT) and appends each, in consumption order, to an
// append-only log whose records are hash-chained
// (hash = sha256(prev_hash || entry), entry the canonical JSON of the
// envelope). Signed checkpoints (Ed25519) pin the chain's head every N
// records, so an export can be verified offline with only the public key,
// and retention can drop a prefix of the log while the checkpoint that
// ends it stays as the chain's anchor.
package audit

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/firebreak-dev/firebreak/events"
)

// Name is the service name.
const Name = "audit"

// GenesisHash is the prev_hash of record 1.
var GenesisHash = strings.Repeat("0", 64)

// Sentinel errors.
var (
	// ErrNotFound: no such record or checkpoint.
	ErrNotFound = errors.New("audit: not found")
	// ErrNoCheckpoint: retention needs a signed checkpoint to cut at.
	ErrNoCheckpoint = errors.New("audit: no checkpoint to archive at")
)

// Record is one entry of the log.
type Record struct {
	Seq        int64     `json:"seq"`
	RecordedAt time.Time `json:"recorded_at"`
	MsgID      string    `json:"msg_id"`
	Type       string    `json:"type"`
	Subject    string    `json:"subject"`
	ActorKind  string    `json:"actor_kind"`
	ActorID    string    `json:"actor_id"`
	IncidentID string    `json:"incident_id,omitempty"`
	// Entry is the canonical JSON of the envelope, the bytes the hash
	// covers.
	Entry    string `json:"entry"`
	PrevHash string `json:"prev_hash"`
	Hash     string `json:"hash"`
}

// Head is where the chain stands: its last record and its anchor, the last
// record retention archived (seq 0 and GenesisHash before any archive).
type Head struct {
	Seq        int64  `json:"seq"`
	Hash       string `json:"hash"`
	AnchorSeq  int64  `json:"anchor_seq"`
	AnchorHash string `json:"anchor_hash"`
}

// Checkpoint is a signed statement that the chain's record Seq has Hash.
type Checkpoint struct {
	Seq      int64     `json:"seq"`
	Hash     string    `json:"hash"`
	SignedAt time.Time `json:"signed_at"`
	// PublicKey (base64) names the key that signed it.
	PublicKey string `json:"public_key"`
	// Signature is the base64 Ed25519 signature of SigningMessage.
	Signature string `json:"signature"`
}

// Filter selects records for Store.Range; zero fields match anything.
type Filter struct {
	Since, Until time.Time // recorded_at in [Since, Until)
	Type         string
	Actor        string // actor id
	Incident     string
	Limit        int // default and maximum: MaxPage
}

// MaxPage bounds one Range call.
const MaxPage = 10000

// Store is the audit log's database. It has no way to change or remove a
// record other than Archive, which drops a checkpointed prefix.
type Store interface {
	// Append appends the envelopes, in order, in one transaction that also
	// records each one's id in consumer's inbox; an envelope applied before
	// (redelivery) appends nothing. Appends from any number of processes
	// serialize, so the chain never forks. It returns the appended records.
	Append(ctx context.Context, consumer string, recordedAt time.Time, envs ...events.Envelope) ([]Record, error)
	// Contains reports whether the message msgID is in the log (or was,
	// before an archive).
	Contains(ctx context.Context, msgID string) (bool, error)
	// Get returns record seq. Errors: ErrNotFound.
	Get(ctx context.Context, seq int64) (Record, error)
	// Range returns records with from <= seq <= to (to 0: no upper bound)
	// matching f, in seq order, at most f.Limit (MaxPage when 0).
	Range(ctx context.Context, from, to int64, f Filter) ([]Record, error)
	// Head returns the chain's head and anchor.
	Head(ctx context.Context) (Head, error)
	// CheckpointAdd stores a checkpoint; one at an existing seq is ignored.
	CheckpointAdd(ctx context.Context, c Checkpoint) error
	// Checkpoints returns the checkpoints with from <= seq <= to (to 0: no
	// upper bound), in seq order.
	Checkpoints(ctx context.Context, from, to int64) ([]Checkpoint, error)
	// LatestCheckpoint returns the newest checkpoint. Errors: ErrNotFound.
	LatestCheckpoint(ctx context.Context) (Checkpoint, error)
	// Archive deletes the records up to and including the checkpoint c
	// (which must be stored) and makes c the chain's anchor, in one
	// transaction. It returns how many records it deleted.
	// Errors: ErrNoCheckpoint when c is not a stored checkpoint.
	Archive(ctx context.Context, c Checkpoint) (int64, error)
}
