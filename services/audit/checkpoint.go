package audit

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"
)

// DefaultCheckpointEvery is how many records a checkpoint covers by default.
const DefaultCheckpointEvery = 1000

// Signer signs checkpoints with an Ed25519 key.
type Signer struct {
	key ed25519.PrivateKey
	pub string
}

// NewSigner returns the signer of a 32-byte Ed25519 seed.
func NewSigner(seed []byte) (*Signer, error) {
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("audit signing key: want a %d-byte Ed25519 seed, got %d bytes", ed25519.SeedSize, len(seed))
	}
	k := ed25519.NewKeyFromSeed(seed)
	return &Signer{key: k, pub: base64.StdEncoding.EncodeToString(k.Public().(ed25519.PublicKey))}, nil
}

// ParseSigningKey reads a base64 (standard or URL, padded or not) seed.
func ParseSigningKey(s string) (*Signer, error) {
	seed, err := decodeBase64(s)
	if err != nil {
		return nil, fmt.Errorf("audit signing key: not base64: %w", err)
	}
	return NewSigner(seed)
}

// ParsePublicKey reads a base64 Ed25519 public key.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	b, err := decodeBase64(s)
	if err != nil {
		return nil, fmt.Errorf("public key: not base64: %w", err)
	}
	if len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("public key: want %d bytes, got %d", ed25519.PublicKeySize, len(b))
	}
	return ed25519.PublicKey(b), nil
}

func decodeBase64(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("invalid base64")
}

// PublicKey is the base64 public key checkpoints are verified with.
func (s *Signer) PublicKey() string { return s.pub }

// Sign returns the signed checkpoint of record (seq, hash) at time at.
func (s *Signer) Sign(seq int64, hash string, at time.Time) Checkpoint {
	c := Checkpoint{Seq: seq, Hash: hash, SignedAt: at.UTC().Truncate(time.Microsecond), PublicKey: s.pub}
	c.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(s.key, c.SigningMessage()))
	return c
}

// SigningMessage is what a checkpoint's signature covers.
func (c Checkpoint) SigningMessage() []byte {
	return fmt.Appendf(nil, "firebreak-audit-checkpoint/v1\n%d\n%s\n%s", c.Seq, c.Hash, c.SignedAt.UTC().Format(time.RFC3339Nano))
}

// VerifySignature checks the checkpoint's signature against pub.
func (c Checkpoint) VerifySignature(pub ed25519.PublicKey) error {
	sig, err := base64.StdEncoding.DecodeString(c.Signature)
	if err != nil || !ed25519.Verify(pub, c.SigningMessage(), sig) {
		return fmt.Errorf("checkpoint %d: bad signature", c.Seq)
	}
	return nil
}
