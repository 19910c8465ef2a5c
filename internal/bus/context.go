package bus

import "context"

type ctxKey int

const (
	keyCorrelation ctxKey = iota
	keyCausation
	keyTraceparent
)

// CorrelationID returns the correlation id of the envelope being handled,
// "" outside a handler.
func CorrelationID(ctx context.Context) string { return ctxString(ctx, keyCorrelation) }

// CausationID returns the id of the envelope being handled: what an event
// published in response records as its causation id. "" outside a handler.
func CausationID(ctx context.Context) string { return ctxString(ctx, keyCausation) }

// WithTraceparent returns ctx carrying a W3C traceparent, which the
// publisher copies into the headers of every message it publishes with it.
func WithTraceparent(ctx context.Context, traceparent string) context.Context {
	if traceparent == "" {
		return ctx
	}
	return context.WithValue(ctx, keyTraceparent, traceparent)
}

// Traceparent returns the W3C traceparent ctx carries: set by
// WithTraceparent, or taken from the message a handler is handling.
func Traceparent(ctx context.Context) string { return ctxString(ctx, keyTraceparent) }

func withEnvelopeIDs(ctx context.Context, correlationID, id string) context.Context {
	ctx = context.WithValue(ctx, keyCorrelation, correlationID)
	return context.WithValue(ctx, keyCausation, id)
}

func ctxString(ctx context.Context, k ctxKey) string {
	s, _ := ctx.Value(k).(string)
	return s
}
