package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/firebreak-dev/firebreak/events"
	"github.com/firebreak-dev/firebreak/internal/fault"
)

// Consumer names. Every consumer records into one inbox name, Inbox, so a
// message seen on two streams is logged once.
const (
	ConsumerCommands = "audit-commands"
	ConsumerEvents   = "audit-events"
	ConsumerAlerts   = "audit-alerts"
	Inbox            = "audit"
)

// ErrBadEntry: an envelope that cannot be put in canonical form.
var ErrBadEntry = fault.New(fault.Invalid, "bad_entry", "envelope cannot be canonicalized")

// Config tunes the service. Zero values take the defaults in the comments.
type Config struct {
	// Signer signs checkpoints; nil: no checkpoints are made.
	Signer *Signer
	// CheckpointEvery makes a checkpoint at every multiple of it. Default
	// DefaultCheckpointEvery.
	CheckpointEvery int64
	// Settle holds a fresh message until its envelope time is this old
	// before logging it, so messages published moments apart on different
	// streams (a command and the events it causes, an event and the
	// command it triggers), which separate consumers receive in no
	// particular order, are logged in the order they were made. A batch
	// waits until its first (oldest) message is Settle old, never longer
	// than Settle: waiting for its last one would idle the consumer for
	// Settle after every batch under a steady stream. A consumer with a
	// backlog does not wait at all, so it costs latency, not throughput.
	// The younger messages at the end of a long batch are therefore
	// ordered only by consumption; CauseWait still logs each one after
	// its cause. Default 200ms; negative: log at once.
	Settle time.Duration
	// CauseWait is how long a fresh message whose cause (causation_id) is
	// not in the log yet waits for it: a command and the event it causes
	// are made microseconds apart, too close for Settle to order. A cause
	// that is never published (a timer firing) costs its fresh effect this
	// much once. Default 500ms; negative: never wait.
	CauseWait time.Duration
	// AckWait is the consumers' ack wait. Default: the bus default.
	AckWait time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Defaults of Config.
const (
	DefaultSettle    = 200 * time.Millisecond
	DefaultCauseWait = 500 * time.Millisecond
)

// causePoll is how often a message waiting for its cause looks again.
const causePoll = 2 * time.Millisecond

// Service appends what it consumes to the log and serves it.
type Service struct {
	store Store
	log   *slog.Logger
	cfg   Config
}

// New returns the audit service on store.
func New(store Store, logger *slog.Logger, cfg Config) (*Service, error) {
	if store == nil {
		return nil, errors.New("audit: nil store")
	}
	if cfg.CheckpointEvery < 0 {
		return nil, fmt.Errorf("audit: checkpoint interval must be positive, got %d", cfg.CheckpointEvery)
	}
	if cfg.CheckpointEvery == 0 {
		cfg.CheckpointEvery = DefaultCheckpointEvery
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Settle == 0 {
		cfg.Settle = DefaultSettle
	}
	if cfg.CauseWait == 0 {
		cfg.CauseWait = DefaultCauseWait
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Service{store: store, log: logger, cfg: cfg}, nil
}

// Store is the service's store (verification and export read it).
func (s *Service) Store() Store { return s.store }

// PublicKey is the base64 key checkpoints verify with ("" without a signer).
func (s *Service) PublicKey() string {
	if s.cfg.Signer == nil {
		return ""
	}
	return s.cfg.Signer.PublicKey()
}

// Record appends envs to the log (a redelivered one appends nothing) and
// makes the checkpoints that the new records reached.
func (s *Service) Record(ctx context.Context, envs ...events.Envelope) error {
	if len(envs) > 0 {
		s.settle(ctx, envs[0])
		s.awaitCauses(ctx, envs)
	}
	recs, err := s.store.Append(ctx, Inbox, s.cfg.Now(), envs...)
	if err != nil {
		return err
	}
	if len(recs) == 0 || s.cfg.Signer == nil {
		return nil
	}
	n := s.cfg.CheckpointEvery
	for _, r := range recs {
		if r.Seq%n == 0 {
			if err := s.store.CheckpointAdd(ctx, s.cfg.Signer.Sign(r.Seq, r.Hash, s.cfg.Now())); err != nil {
				// The next checkpoint covers these records too; the
				// append must not be redone for this.
				s.log.WarnContext(ctx, "audit checkpoint", "seq", r.Seq, "err", err)
			}
		}
	}
	return nil
}

// settle waits until env is Config.Settle old (by real time: this is
// about transport, not the domain clock), and never longer than that.
func (s *Service) settle(ctx context.Context, env events.Envelope) {
	if s.cfg.Settle <= 0 {
		return
	}
	wait := min(time.Until(env.Time.Add(s.cfg.Settle)), s.cfg.Settle)
	if wait <= 0 {
		return
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// awaitCauses waits, at most CauseWait of real time in all, for the causes
// of envs that are not in envs themselves to be logged. Only fresh
// messages wait: a consumer with a backlog logs at once.
func (s *Service) awaitCauses(ctx context.Context, envs []events.Envelope) {
	wait := s.cfg.CauseWait
	if wait <= 0 {
		return
	}
	var deadline time.Time
	var inBatch map[string]bool
	for _, env := range envs {
		if env.CausationID == "" || time.Since(env.Time) > wait+s.cfg.Settle {
			continue
		}
		if len(envs) > 1 && inBatch == nil {
			inBatch = make(map[string]bool, len(envs))
			for _, e := range envs {
				inBatch[e.ID] = true
			}
		}
		if inBatch[env.CausationID] {
			continue
		}
		if deadline.IsZero() {
			deadline = time.Now().Add(wait)
		}
		for {
			ok, err := s.store.Contains(ctx, env.CausationID)
			if err != nil || ok || time.Now().After(deadline) {
				break
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(causePoll):
			}
		}
	}
}

// ErrNoSigner: checkpoints need a signing key.
var ErrNoSigner = fault.New(fault.Conflict, "no_signing_key", "audit checkpoints need a signing key (FIREBREAK_AUDIT_SIGNING_KEY)")

// ErrEmpty: there is nothing to checkpoint yet.
var ErrEmpty = fault.New(fault.Conflict, "empty_log", "the audit log is empty")

// Checkpoint signs the chain's head now (or returns the checkpoint already
// made there).
func (s *Service) Checkpoint(ctx context.Context) (Checkpoint, error) {
	if s.cfg.Signer == nil {
		return Checkpoint{}, ErrNoSigner
	}
	h, err := s.store.Head(ctx)
	if err != nil {
		return Checkpoint{}, err
	}
	if h.Seq == 0 || h.Seq == h.AnchorSeq {
		return Checkpoint{}, ErrEmpty
	}
	if err := s.store.CheckpointAdd(ctx, s.cfg.Signer.Sign(h.Seq, h.Hash, s.cfg.Now())); err != nil {
		return Checkpoint{}, err
	}
	cps, err := s.store.Checkpoints(ctx, h.Seq, h.Seq)
	if err != nil || len(cps) != 1 {
		return Checkpoint{}, fmt.Errorf("read checkpoint %d back: %v", h.Seq, err)
	}
	return cps[0], nil
}

// Archive applies retention: it deletes the records up to the newest
// checkpoint whose record was recorded before before, and that checkpoint
// becomes the chain's anchor. It returns the checkpoint (zero when there
// was nothing to archive) and how many records went.
func (s *Service) Archive(ctx context.Context, before time.Time) (Checkpoint, int64, error) {
	c, err := s.ArchiveCut(ctx, before)
	if err != nil || c.Seq == 0 {
		return Checkpoint{}, 0, err
	}
	n, err := s.store.Archive(ctx, c)
	return c, n, err
}

// ArchiveCut returns the checkpoint Archive(before) would cut at (zero when
// there is none) and changes nothing.
func (s *Service) ArchiveCut(ctx context.Context, before time.Time) (Checkpoint, error) {
	h, err := s.store.Head(ctx)
	if err != nil {
		return Checkpoint{}, err
	}
	cps, err := s.store.Checkpoints(ctx, h.AnchorSeq+1, 0)
	if err != nil {
		return Checkpoint{}, err
	}
	for i := len(cps) - 1; i >= 0; i-- {
		r, err := s.store.Get(ctx, cps[i].Seq)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return Checkpoint{}, err
		}
		if r.RecordedAt.Before(before) {
			return cps[i], nil
		}
	}
	return Checkpoint{}, nil
}

// ErrNotACheckpoint: archiving through a record that has no checkpoint.
var ErrNotACheckpoint = fault.New(fault.Invalid, "not_a_checkpoint", "archiving cuts only at a signed checkpoint")

// ArchiveThrough deletes the records up to the checkpoint at seq, which
// becomes the anchor: what `firebreak audit archive` does once it has the
// records up to there in a verified file. Archiving an already archived
// seq deletes nothing.
func (s *Service) ArchiveThrough(ctx context.Context, seq int64) (Checkpoint, int64, error) {
	cps, err := s.store.Checkpoints(ctx, seq, seq)
	if err != nil {
		return Checkpoint{}, 0, err
	}
	if len(cps) != 1 {
		return Checkpoint{}, 0, fault.Wrap(ErrNotACheckpoint, "no checkpoint at record %d", seq)
	}
	n, err := s.store.Archive(ctx, cps[0])
	return cps[0], n, err
}

// Verify verifies the log, checking checkpoint signatures with the
// service's key.
func (s *Service) Verify(ctx context.Context) (Report, error) {
	var opts []VerifyOption
	if s.cfg.Signer != nil {
		pub, _ := ParsePublicKey(s.cfg.Signer.PublicKey())
		opts = append(opts, WithPublicKey(pub))
	}
	return Verify(ctx, s.store, opts...)
}
