package slackfake

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// socketPath is where apps.connections.open points the client.
const socketPath = "/socket"

// socketState is the fake's Socket Mode connection: at most one client,
// the envelopes sent to it and the acknowledgements it sent back.
type socketState struct {
	mu      sync.Mutex
	conn    *websocket.Conn
	seq     int
	acks    map[string]json.RawMessage // envelope id → ack payload ("null" without one)
	changed chan struct{}
}

func (st *socketState) notify() {
	if st.changed != nil {
		close(st.changed)
	}
	st.changed = make(chan struct{})
}

func (st *socketState) wait() <-chan struct{} {
	if st.changed == nil {
		st.changed = make(chan struct{})
	}
	return st.changed
}

// connectionsOpen answers apps.connections.open with the fake's websocket.
func (s *Server) connectionsOpen(url.Values) (map[string]any, string) {
	return map[string]any{"url": "ws" + strings.TrimPrefix(s.URL, "http") + socketPath}, ""
}

// upgrader accepts the Origin slack-go's socketmode client sends.
var upgrader = websocket.Upgrader{CheckOrigin: func(r *http.Request) bool {
	return r.Header.Get("Origin") == "https://api.slack.com"
}}

// serveSocket accepts the client's websocket, says hello, and records the
// acknowledgements it sends.
func (s *Server) serveSocket(w http.ResponseWriter, r *http.Request) {
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	st := &s.socket
	st.mu.Lock()
	if st.conn != nil {
		_ = st.conn.Close()
	}
	st.conn = conn
	if st.acks == nil {
		st.acks = map[string]json.RawMessage{}
	}
	err = conn.WriteJSON(map[string]any{"type": "hello", "num_connections": 1,
		"debug_info":      map[string]any{"host": "slackfake", "approximate_connection_time": 3600},
		"connection_info": map[string]any{"app_id": "A0APP0001"}})
	st.notify()
	st.mu.Unlock()
	if err != nil {
		return
	}
	for {
		var ack struct {
			EnvelopeID string          `json:"envelope_id"`
			Payload    json.RawMessage `json:"payload"`
		}
		if err := conn.ReadJSON(&ack); err != nil {
			st.mu.Lock()
			if st.conn == conn {
				st.conn = nil
			}
			st.notify()
			st.mu.Unlock()
			return
		}
		st.mu.Lock()
		if ack.Payload == nil {
			ack.Payload = json.RawMessage("null")
		}
		st.acks[ack.EnvelopeID] = ack.Payload
		st.notify()
		st.mu.Unlock()
	}
}

// SendSocket sends a Socket Mode envelope of typ ("slash_commands",
// "interactive", …) with payload to the connected client, waiting up to
// timeout for one to connect, and returns the envelope id.
func (s *Server) SendSocket(typ string, payload any, timeout time.Duration) (string, error) {
	st := &s.socket
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		st.mu.Lock()
		if st.conn != nil {
			st.seq++
			id := fmt.Sprintf("env-%d", st.seq)
			err := st.conn.WriteJSON(map[string]any{"envelope_id": id, "type": typ, "payload": payload, "accepts_response_payload": typ == "slash_commands"})
			st.mu.Unlock()
			return id, err
		}
		ch := st.wait()
		st.mu.Unlock()
		select {
		case <-ch:
		case <-deadline.C:
			return "", errors.New("slackfake: no Socket Mode client connected")
		}
	}
}

// WaitAck waits up to timeout for the client to acknowledge an envelope
// and returns the payload it acknowledged with ("null" for none).
func (s *Server) WaitAck(envelopeID string, timeout time.Duration) (json.RawMessage, error) {
	st := &s.socket
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		st.mu.Lock()
		ack, ok := st.acks[envelopeID]
		ch := st.wait()
		st.mu.Unlock()
		if ok {
			return ack, nil
		}
		select {
		case <-ch:
		case <-deadline.C:
			return nil, fmt.Errorf("slackfake: envelope %s not acknowledged within %s", envelopeID, timeout)
		}
	}
}
