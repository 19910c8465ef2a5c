package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/firebreak-dev/firebreak/internal/httpapi"
	"github.com/firebreak-dev/firebreak/services/postmortem"
)

// raw GETs path and returns the body as it is (Markdown, CSV, JSON).
func (c *Client) raw(ctx context.Context, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return nil, fmt.Errorf("bad server URL %q: %w", c.base, err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.channel != "" {
		req.Header.Set(httpapi.ChannelHeader, c.channel)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach firebreak at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode >= 300 {
		var eb httpapi.ErrorBody
		if json.Unmarshal(b, &eb) == nil && eb.Error.Code != "" {
			return nil, &APIError{Status: resp.StatusCode, Code: eb.Error.Code, Message: eb.Error.Message, Details: eb.Error.Details}
		}
		return nil, &APIError{Status: resp.StatusCode, Code: "http_" + strconv.Itoa(resp.StatusCode), Message: strings.TrimSpace(string(b))}
	}
	return b, nil
}

func withQuery(path string, kv ...string) string {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			q.Set(kv[i], kv[i+1])
		}
	}
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}

// Timeline returns an incident's timeline in format (json, md or csv),
// times in the IANA zone tz ("" for the server's default); with details,
// the JSON entries carry their events' data.
func (c *Client) Timeline(ctx context.Context, ref, format, tz string, details bool) ([]byte, error) {
	d := ""
	if details {
		d = "true"
	}
	return c.raw(ctx, withQuery("/api/v1/incidents/"+url.PathEscape(ref)+"/timeline", "format", format, "tz", tz, "details", d))
}

// TimelineJSON returns an incident's timeline decoded.
func (c *Client) TimelineJSON(ctx context.Context, ref string) (postmortem.TimelineJSON, error) {
	var out postmortem.TimelineJSON
	err := c.do(ctx, http.MethodGet, "/api/v1/incidents/"+url.PathEscape(ref)+"/timeline", nil, &out)
	return out, err
}

// CreatePostmortem starts an incident's post-mortem from the template.
func (c *Client) CreatePostmortem(ctx context.Context, ref, title string) (postmortem.PostmortemJSON, error) {
	var out postmortem.PostmortemJSON
	err := c.do(ctx, http.MethodPost, "/api/v1/incidents/"+url.PathEscape(ref)+"/postmortems", map[string]string{"title": title}, &out)
	return out, err
}

// GetPostmortem returns a post-mortem by id or incident reference.
func (c *Client) GetPostmortem(ctx context.Context, id string) (postmortem.PostmortemJSON, error) {
	var out postmortem.PostmortemJSON
	err := c.do(ctx, http.MethodGet, "/api/v1/postmortems/"+url.PathEscape(id), nil, &out)
	return out, err
}

// PostmortemMarkdown exports a post-mortem as Markdown.
func (c *Client) PostmortemMarkdown(ctx context.Context, id, tz string) ([]byte, error) {
	return c.raw(ctx, withQuery("/api/v1/postmortems/"+url.PathEscape(id), "format", "md", "tz", tz))
}

// EditPostmortem applies an edit based on a revision.
func (c *Client) EditPostmortem(ctx context.Context, id string, body postmortem.EditBody) (postmortem.PostmortemJSON, error) {
	var out postmortem.PostmortemJSON
	err := c.do(ctx, http.MethodPatch, "/api/v1/postmortems/"+url.PathEscape(id), body, &out)
	return out, err
}

// SetPostmortemState moves a post-mortem to state.
func (c *Client) SetPostmortemState(ctx context.Context, id string, base int64, state string) (postmortem.PostmortemJSON, error) {
	var out postmortem.PostmortemJSON
	err := c.do(ctx, http.MethodPost, "/api/v1/postmortems/"+url.PathEscape(id)+"/state", postmortem.StateBody{BaseRevision: base, State: state}, &out)
	return out, err
}

// ResponseReport returns response metrics since (30d, 12h, RFC 3339)
// grouped by service or severity.
func (c *Client) ResponseReport(ctx context.Context, since, by string) (postmortem.ResponseReport, error) {
	var out postmortem.ResponseReport
	err := c.do(ctx, http.MethodGet, withQuery("/api/v1/metrics/response", "since", since, "by", by), nil, &out)
	return out, err
}

// OnCallReport returns the on-call load per person since, nights in tz.
func (c *Client) OnCallReport(ctx context.Context, since, tz string) (postmortem.OnCallReport, error) {
	var out postmortem.OnCallReport
	err := c.do(ctx, http.MethodGet, withQuery("/api/v1/metrics/oncall", "since", since, "tz", tz), nil, &out)
	return out, err
}
