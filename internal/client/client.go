// Package client is the Go client of firebreak's HTTP API, used by the CLI
// and by end-to-end tests.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/firebreak-dev/firebreak/internal/httpapi"
	"github.com/firebreak-dev/firebreak/services/incident"
	"github.com/firebreak-dev/firebreak/services/intake"
)

// Client calls one firebreak server.
type Client struct {
	base    string
	token   string
	channel string
	http    *http.Client
}

// New returns a client of the server at base (e.g. http://127.0.0.1:8080)
// authenticating with token. channel ("cli" or "") is sent so that events
// record where a change came from.
func New(base, token, channel string) *Client {
	return &Client{base: strings.TrimRight(base, "/"), token: token, channel: channel, http: &http.Client{Timeout: 30 * time.Second}}
}

// APIError is an error answer of the server.
type APIError struct {
	Status  int
	Code    string
	Message string
	Details map[string]any
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s (HTTP %d, %s)", e.Message, e.Status, e.Code)
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return fmt.Errorf("bad server URL %q: %w", c.base, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.channel != "" {
		req.Header.Set(httpapi.ChannelHeader, c.channel)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach firebreak at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode >= 300 {
		var eb httpapi.ErrorBody
		if json.Unmarshal(raw, &eb) == nil && eb.Error.Code != "" {
			return &APIError{Status: resp.StatusCode, Code: eb.Error.Code, Message: eb.Error.Message, Details: eb.Error.Details}
		}
		return &APIError{Status: resp.StatusCode, Code: "http_" + strconv.Itoa(resp.StatusCode), Message: strings.TrimSpace(string(raw))}
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("decode answer of %s %s: %w", method, path, err)
		}
	}
	return nil
}

// ListOptions filters ListIncidents.
type ListOptions struct {
	Status  string // comma-separated statuses
	Service string
	Limit   int
	Cursor  string
}

// ListIncidents returns one page of incidents.
func (c *Client) ListIncidents(ctx context.Context, o ListOptions) (incident.ListJSON, error) {
	q := url.Values{}
	if o.Status != "" {
		q.Set("status", o.Status)
	}
	if o.Service != "" {
		q.Set("service", o.Service)
	}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	if o.Cursor != "" {
		q.Set("cursor", o.Cursor)
	}
	path := "/api/v1/incidents"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out incident.ListJSON
	return out, c.do(ctx, http.MethodGet, path, nil, &out)
}

// GetIncident returns one incident with its notes.
func (c *Client) GetIncident(ctx context.Context, ref string) (incident.IncidentJSON, error) {
	var out incident.IncidentJSON
	return out, c.do(ctx, http.MethodGet, "/api/v1/incidents/"+url.PathEscape(ref), nil, &out)
}

// Acknowledge acknowledges an incident.
func (c *Client) Acknowledge(ctx context.Context, ref, note string) (incident.IncidentJSON, error) {
	return c.Act(ctx, ref, "acknowledge", incident.CommandBody{Note: note})
}

// Resolve resolves an incident.
func (c *Client) Resolve(ctx context.Context, ref, note string) (incident.IncidentJSON, error) {
	return c.Act(ctx, ref, "resolve", incident.CommandBody{Note: note})
}

// AddNote adds a note to an incident.
func (c *Client) AddNote(ctx context.Context, ref, note string) (incident.IncidentJSON, error) {
	return c.Act(ctx, ref, "notes", incident.CommandBody{Note: note})
}

// Act runs one incident action (acknowledge, escalate, contain, mitigate,
// resolve, reopen, postmortem, close, snooze, assign, severity, merge,
// notes, responders) with its body.
func (c *Client) Act(ctx context.Context, ref, action string, body incident.CommandBody) (incident.IncidentJSON, error) {
	var out incident.IncidentJSON
	return out, c.do(ctx, http.MethodPost, "/api/v1/incidents/"+url.PathEscape(ref)+"/"+action, body, &out)
}

// Declare opens an incident without an alert.
func (c *Client) Declare(ctx context.Context, d incident.DeclareBody) (incident.IncidentJSON, error) {
	var out incident.IncidentJSON
	return out, c.do(ctx, http.MethodPost, "/api/v1/incidents", d, &out)
}

// SendAlert posts a generic alert.
func (c *Client) SendAlert(ctx context.Context, a intake.Alert) (intake.AcceptedJSON, error) {
	var out intake.AcceptedJSON
	return out, c.do(ctx, http.MethodPost, "/api/v1/alerts", a, &out)
}
