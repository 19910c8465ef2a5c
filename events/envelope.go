// Package events is firebreak's contract: the envelope every event and command
// travels in, the catalog of event and command types, the NATS subject scheme
// and the mapping to and from CloudEvents 1.0. It imports no NATS code, so any
// producer or consumer can depend on it.
package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// ActorKind says what kind of party caused an event.
type ActorKind string

// The actor kinds.
const (
	ActorUser        ActorKind = "user"
	ActorIntegration ActorKind = "integration"
	ActorSystem      ActorKind = "system"
)

// Channel says through which channel a person or system acted.
type Channel string

// The channels a change can come from.
const (
	ChannelAPI   Channel = "api"
	ChannelCLI   Channel = "cli"
	ChannelSlack Channel = "slack"
	ChannelAuto  Channel = "auto"
	ChannelNATS  Channel = "nats"
)

// Actor is who caused an event or issued a command.
type Actor struct {
	Kind    ActorKind `json:"kind"`
	ID      string    `json:"id"`
	Name    string    `json:"name,omitempty"`
	Channel Channel   `json:"channel,omitempty"`
}

// System is the actor for changes firebreak makes on its own.
func System(service string) Actor {
	return Actor{Kind: ActorSystem, ID: service, Channel: ChannelAuto}
}

// Envelope is the one wrapper around every event and command. Its ID is a
// UUIDv7 and doubles as the JetStream Nats-Msg-Id, so a re-published envelope
// is de-duplicated by the server.
type Envelope struct {
	ID            string          `json:"id"`
	Type          string          `json:"type"`
	Version       int             `json:"version"`
	Source        string          `json:"source"`
	Subject       string          `json:"subject,omitempty"`
	Time          time.Time       `json:"time"`
	CorrelationID string          `json:"correlation_id"`
	CausationID   string          `json:"causation_id,omitempty"`
	Actor         Actor           `json:"actor"`
	Data          json.RawMessage `json:"data"`
}

// ErrInvalidEnvelope is returned when an envelope lacks a required attribute.
var ErrInvalidEnvelope = errors.New("invalid envelope")

// Option adjusts an envelope built by New.
type Option func(*Envelope)

// CausedBy makes the new envelope a consequence of parent: it inherits the
// parent's correlation id and records the parent's id as its causation id.
func CausedBy(parent Envelope) Option {
	return func(e *Envelope) {
		e.CorrelationID = parent.CorrelationID
		e.CausationID = parent.ID
	}
}

// WithCorrelation sets the correlation id (for example from an HTTP request).
func WithCorrelation(id string) Option {
	return func(e *Envelope) {
		if id != "" {
			e.CorrelationID = id
		}
	}
}

// At sets the envelope time (domain code passes its clock's now).
func At(t time.Time) Option {
	return func(e *Envelope) { e.Time = t.UTC() }
}

// WithID sets an explicit id, for producers that must be able to retry with
// the same id (idempotent publishing).
func WithID(id string) Option {
	return func(e *Envelope) {
		if id != "" {
			e.ID = id
		}
	}
}

// New builds an envelope of the given type around data. The version is the
// catalog's current version of typ. Without CausedBy or WithCorrelation the
// envelope starts a new correlation (its own id).
func New(typ, source, subject string, actor Actor, data any, opts ...Option) (Envelope, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return Envelope{}, fmt.Errorf("encode %s data: %w", typ, err)
	}
	id, err := uuid.NewV7()
	if err != nil {
		return Envelope{}, fmt.Errorf("new event id: %w", err)
	}
	e := Envelope{
		ID:      id.String(),
		Type:    typ,
		Version: CurrentVersion(typ),
		Source:  source,
		Subject: subject,
		Time:    time.Now().UTC(),
		Actor:   actor,
		Data:    raw,
	}
	for _, o := range opts {
		o(&e)
	}
	if e.CorrelationID == "" {
		e.CorrelationID = e.ID
	}
	return e, e.Validate()
}

// MustNew is New for tests and fixed catalog examples; it panics on error.
func MustNew(typ, source, subject string, actor Actor, data any, opts ...Option) Envelope {
	e, err := New(typ, source, subject, actor, data, opts...)
	if err != nil {
		panic(err)
	}
	return e
}

// Validate checks the attributes every envelope must have.
func (e Envelope) Validate() error {
	var missing []string
	if e.ID == "" {
		missing = append(missing, "id")
	}
	if e.Type == "" {
		missing = append(missing, "type")
	}
	if e.Version < 1 {
		missing = append(missing, "version")
	}
	if e.Source == "" {
		missing = append(missing, "source")
	}
	if e.Time.IsZero() {
		missing = append(missing, "time")
	}
	if e.Actor.Kind == "" || e.Actor.ID == "" {
		missing = append(missing, "actor")
	}
	if len(e.Data) == 0 {
		missing = append(missing, "data")
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: missing %v", ErrInvalidEnvelope, missing)
	}
	return nil
}

// Encode returns the envelope's JSON form, the bytes that travel on NATS.
func (e Envelope) Encode() ([]byte, error) {
	return json.Marshal(e)
}

// Decode parses and validates an envelope.
func Decode(b []byte) (Envelope, error) {
	var e Envelope
	if err := json.Unmarshal(b, &e); err != nil {
		return Envelope{}, fmt.Errorf("%w: %v", ErrInvalidEnvelope, err)
	}
	if err := e.Validate(); err != nil {
		return Envelope{}, err
	}
	return e, nil
}

// DecodeData unmarshals the envelope's data into v.
func (e Envelope) DecodeData(v any) error {
	if err := json.Unmarshal(e.Data, v); err != nil {
		return fmt.Errorf("decode %s data: %w", e.Type, err)
	}
	return nil
}
