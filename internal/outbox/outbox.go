// Package outbox holds the transactional outbox and inbox shared by every
// service. A service writes the envelopes a state change causes into its
// outbox table in the same transaction as the change (Enqueue in the engine
// adapters), and records each message it applied in its inbox table in that
// same transaction (MarkProcessed), so a redelivered message changes nothing.
// The bus relay publishes the outbox.
package outbox

import (
	"fmt"

	"github.com/firebreak-dev/firebreak/events"
)

// Record is one outbox row waiting to be published.
type Record struct {
	Seq     int64
	MsgID   string
	Subject string
	Payload []byte
}

// FromEnvelope turns an envelope into the record that publishes it on the
// subject its type belongs to.
func FromEnvelope(e events.Envelope) (Record, error) {
	if err := e.Validate(); err != nil {
		return Record{}, err
	}
	b, err := e.Encode()
	if err != nil {
		return Record{}, fmt.Errorf("encode %s: %w", e.Type, err)
	}
	return Record{MsgID: e.ID, Subject: events.SubjectFor(e.Type), Payload: b}, nil
}
