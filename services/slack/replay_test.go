package slack

import (
	"strconv"
	"testing"
	"time"
)

func TestReplayCache(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
	c := newReplayCache(3)
	if !c.add("a", t0) || c.add("a", t0.Add(time.Minute)) {
		t.Fatal("a signature must be accepted once")
	}
	// Past twice the signature window it is forgotten: Verify refuses such
	// an old timestamp anyway.
	if !c.add("a", t0.Add(2*MaxSkew+time.Second)) {
		t.Error("an expired entry still blocks")
	}
	// Bounded: the oldest entry goes when the cache is full.
	for i := range 10 {
		c.add(strconv.Itoa(i), t0.Add(11*time.Minute))
	}
	if n := len(c.seen); n > 3 || c.order.Len() != n {
		t.Errorf("cache holds %d entries (list %d), want at most 3", n, c.order.Len())
	}
	if c.add("9", t0.Add(11*time.Minute)) {
		t.Error("the newest entry was evicted")
	}
}
