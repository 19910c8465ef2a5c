package audit

import (
	"context"
	"crypto/ed25519"
	"fmt"
)

// Reader is what verification reads: a subset of Store.
type Reader interface {
	Head(ctx context.Context) (Head, error)
	Range(ctx context.Context, from, to int64, f Filter) ([]Record, error)
	Checkpoints(ctx context.Context, from, to int64) ([]Checkpoint, error)
}

// VerifyOption adjusts Verify.
type VerifyOption func(*verifyOpts)

type verifyOpts struct{ pub ed25519.PublicKey }

// WithPublicKey checks every checkpoint's signature against pub; without
// it checkpoints are still matched against the chain but not
// authenticated.
func WithPublicKey(pub ed25519.PublicKey) VerifyOption {
	return func(o *verifyOpts) { o.pub = pub }
}

// Verify recomputes the chain from its anchor (record 0, or the checkpoint
// retention last archived at) to its head, and reports the first record
// that was modified, deleted, inserted or moved, or a checkpoint that does
// not match. The error is for failures to read, not for a broken chain.
func Verify(ctx context.Context, r Reader, opts ...VerifyOption) (Report, error) {
	var o verifyOpts
	for _, f := range opts {
		f(&o)
	}
	head, err := r.Head(ctx)
	if err != nil {
		return Report{}, err
	}
	// Only up to the head read above: appends may go on while this runs.
	cps, err := r.Checkpoints(ctx, head.AnchorSeq, head.Seq)
	if err != nil {
		return Report{}, err
	}
	c := newChainCheck(head.AnchorSeq, head.AnchorHash)
	fail := func(p *Problem) (Report, error) {
		c.rep.Problem = p
		return c.rep, nil
	}
	// The anchor itself must be a checkpoint (after an archive), so that
	// the chain's start is signed too.
	if head.AnchorSeq > 0 {
		if len(cps) == 0 || cps[0].Seq != head.AnchorSeq || cps[0].Hash != head.AnchorHash {
			return fail(&Problem{Seq: head.AnchorSeq, Reason: "chain anchor does not match a stored checkpoint"})
		}
	}
	i := 0
	checkCP := func(seq int64, hash string) *Problem {
		for i < len(cps) && cps[i].Seq <= seq {
			cp := cps[i]
			i++
			if cp.Seq < seq {
				continue // an anchor already checked above
			}
			if cp.Hash != hash {
				return &Problem{Seq: seq, Reason: fmt.Sprintf("checkpoint says hash %s, chain has %s", short(cp.Hash), short(hash))}
			}
			if o.pub != nil {
				if err := cp.VerifySignature(o.pub); err != nil {
					return &Problem{Seq: seq, Reason: err.Error()}
				}
			}
			c.rep.Checkpoints++
			c.rep.SignedThrough = seq
		}
		return nil
	}
	if p := checkCP(head.AnchorSeq, head.AnchorHash); p != nil {
		return fail(p)
	}
	// One goroutine reads the next page while this one checks the last.
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pages := readPages(pctx, r, head.AnchorSeq+1, head.Seq)
	for pg := range pages {
		if pg.err != nil {
			return Report{}, pg.err
		}
		own := checkRecords(pg.recs)
		for j, rec := range pg.recs {
			if p := c.addChecked(rec, own[j]); p != nil {
				return fail(p)
			}
			if p := checkCP(rec.Seq, rec.Hash); p != nil {
				return fail(p)
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return Report{}, err
	}
	// Records and checkpoints past the head are legitimate only if they
	// were appended since the head was read: read them, then the head
	// again (an append moves the head in the same transaction, and a
	// checkpoint is made after its record).
	extraRecs, err := r.Range(ctx, head.Seq+1, 0, Filter{Limit: 1})
	if err != nil {
		return Report{}, err
	}
	extraCPs, err := r.Checkpoints(ctx, head.Seq+1, 0)
	if err != nil {
		return Report{}, err
	}
	now, err := r.Head(ctx)
	if err != nil {
		return Report{}, err
	}
	switch {
	case len(extraRecs) > 0 && extraRecs[0].Seq > now.Seq:
		return fail(&Problem{Seq: extraRecs[0].Seq, Reason: fmt.Sprintf("record after the head (%d) inserted", now.Seq)})
	case len(extraCPs) > 0 && extraCPs[len(extraCPs)-1].Seq > now.Seq:
		return fail(&Problem{Seq: extraCPs[len(extraCPs)-1].Seq, Reason: fmt.Sprintf("checkpoint for a record that does not exist (records after %d deleted?)", now.Seq)})
	case now.AnchorSeq != head.AnchorSeq:
		return Report{}, fmt.Errorf("audit log archived while verifying; verify again")
	case c.next-1 < head.Seq:
		return fail(&Problem{Seq: c.next, Reason: fmt.Sprintf("record missing (deleted?): the head says the log ends at %d", head.Seq)})
	case c.prev != head.Hash:
		return fail(&Problem{Seq: head.Seq, Reason: "last record's hash does not match the head"})
	case i < len(cps):
		return fail(&Problem{Seq: cps[i].Seq, Reason: "checkpoint for a record that does not exist (records deleted?)"})
	}
	c.rep.OK = true
	return c.rep, nil
}

type page struct {
	recs []Record
	err  error
}

// readPages sends the records from..to in order, in pages of the seq
// windows [from, from+MaxPage), [from+MaxPage, from+2·MaxPage), …, then
// closes the channel; it stops early when ctx ends or a read fails. Two
// readers fetch alternate windows at once (the stores allow concurrent
// reads), so reading, the slowest part of a verify, uses both of a small
// machine's CPUs; the pages still arrive in order.
func readPages(ctx context.Context, r Reader, from, to int64) <-chan page {
	const readers = 2
	ch := make(chan page, 1)
	if from > to {
		close(ch)
		return ch
	}
	var parts [readers]chan page
	for k := range parts {
		parts[k] = make(chan page, 1)
		go func() {
			defer close(parts[k])
			for lo := from + int64(k)*MaxPage; lo <= to; lo += readers * MaxPage {
				recs, err := r.Range(ctx, lo, min(lo+MaxPage-1, to), Filter{Limit: MaxPage})
				select {
				case parts[k] <- page{recs: recs, err: err}:
				case <-ctx.Done():
					return
				}
				if err != nil {
					return
				}
			}
		}()
	}
	go func() {
		defer close(ch)
		for k := 0; ; k = (k + 1) % readers {
			pg, ok := <-parts[k]
			if !ok {
				return
			}
			select {
			case ch <- pg:
			case <-ctx.Done():
				return
			}
			if pg.err != nil {
				return
			}
		}
	}()
	return ch
}
