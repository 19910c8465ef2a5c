package httpapi

import "github.com/firebreak-dev/firebreak/events"

// Pending takes the events queued for publication, without publishing
// them.
func (se *SecurityEvents) Pending() []events.Envelope {
	var out []events.Envelope
	for {
		select {
		case env := <-se.queue:
			out = append(out, env)
		default:
			return out
		}
	}
}

// Keys is how many keys each throttle holds.
func (se *SecurityEvents) Keys() (denied, overflow, used int) {
	se.mu.Lock()
	defer se.mu.Unlock()
	return se.denied.len(), se.overflow.len(), se.used.len()
}
