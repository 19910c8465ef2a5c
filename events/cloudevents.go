package events

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// CloudEventTypePrefix is prepended to firebreak types to form CloudEvents
// types (reverse-DNS, as the spec recommends).
const CloudEventTypePrefix = "dev.firebreak."

// CloudEvent is the CloudEvents 1.0 structured-mode JSON form of an
// envelope. Firebreak attributes without a CloudEvents counterpart travel as
// extension attributes (lower-case alphanumeric names, as the spec requires).
type CloudEvent struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Subject         string          `json:"subject,omitempty"`
	Time            string          `json:"time,omitempty"`
	DataContentType string          `json:"datacontenttype,omitempty"`
	Data            json.RawMessage `json:"data,omitempty"`
	TypeVersion     string          `json:"typeversion,omitempty"`
	CorrelationID   string          `json:"correlationid,omitempty"`
	CausationID     string          `json:"causationid,omitempty"`
	ActorKind       string          `json:"actorkind,omitempty"`
	ActorID         string          `json:"actorid,omitempty"`
	ActorName       string          `json:"actorname,omitempty"`
	ActorChannel    string          `json:"actorchannel,omitempty"`
}

// ToCloudEvent maps an envelope onto CloudEvents 1.0 attributes.
func ToCloudEvent(e Envelope) CloudEvent {
	return CloudEvent{
		SpecVersion: "1.0", ID: e.ID, Source: e.Source, Type: CloudEventTypePrefix + e.Type,
		Subject: e.Subject, Time: e.Time.UTC().Format(time.RFC3339Nano), DataContentType: "application/json",
		Data: e.Data, TypeVersion: strconv.Itoa(e.Version), CorrelationID: e.CorrelationID,
		CausationID: e.CausationID, ActorKind: string(e.Actor.Kind), ActorID: e.Actor.ID,
		ActorName: e.Actor.Name, ActorChannel: string(e.Actor.Channel),
	}
}

// FromCloudEvent maps a CloudEvents 1.0 event back onto an envelope. Events
// from outside producers may lack firebreak's extensions: a missing version
// means 1, a missing correlation id is the event's own id, a missing actor is
// an integration named after the source.
func FromCloudEvent(ce CloudEvent) (Envelope, error) {
	if ce.SpecVersion != "1.0" {
		return Envelope{}, fmt.Errorf("%w: specversion %q is not 1.0", ErrInvalidEnvelope, ce.SpecVersion)
	}
	if ce.ID == "" || ce.Source == "" || ce.Type == "" {
		return Envelope{}, fmt.Errorf("%w: id, source and type are required", ErrInvalidEnvelope)
	}
	if ce.DataContentType != "" && !strings.HasPrefix(ce.DataContentType, "application/json") && !strings.HasSuffix(ce.DataContentType, "+json") {
		return Envelope{}, fmt.Errorf("%w: datacontenttype %q is not JSON", ErrInvalidEnvelope, ce.DataContentType)
	}
	e := Envelope{
		ID: ce.ID, Type: strings.TrimPrefix(ce.Type, CloudEventTypePrefix), Version: 1, Source: ce.Source,
		Subject: ce.Subject, CorrelationID: ce.CorrelationID, CausationID: ce.CausationID,
		Actor: Actor{Kind: ActorKind(ce.ActorKind), ID: ce.ActorID, Name: ce.ActorName, Channel: Channel(ce.ActorChannel)},
		Data:  ce.Data,
	}
	if ce.TypeVersion != "" {
		v, err := strconv.Atoi(ce.TypeVersion)
		if err != nil || v < 1 {
			return Envelope{}, fmt.Errorf("%w: typeversion %q", ErrInvalidEnvelope, ce.TypeVersion)
		}
		e.Version = v
	}
	if ce.Time != "" {
		t, err := time.Parse(time.RFC3339Nano, ce.Time)
		if err != nil {
			return Envelope{}, fmt.Errorf("%w: time %q is not RFC 3339", ErrInvalidEnvelope, ce.Time)
		}
		e.Time = t.UTC()
	}
	if e.CorrelationID == "" {
		e.CorrelationID = e.ID
	}
	if e.Actor.Kind == "" {
		e.Actor = Actor{Kind: ActorIntegration, ID: ce.Source}
	}
	if len(e.Data) == 0 {
		e.Data = json.RawMessage("null")
	}
	return e, e.Validate()
}
