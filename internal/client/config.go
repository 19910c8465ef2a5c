package client

import (
	"context"
	"errors"
	"net/http"

	"github.com/firebreak-dev/firebreak/services/escalation"
)

// ApplyResult answers ApplyConfig.
type ApplyResult struct {
	// Applied is false for a dry run.
	Applied bool                `json:"applied"`
	Changes []escalation.Change `json:"changes"`
}

// ApplyConfig replaces the server's paging configuration with c, or with
// dryRun only reports what would change. An invalid configuration fails with
// an *APIError of code invalid_config; ConfigErrors lists its problems.
func (c *Client) ApplyConfig(ctx context.Context, cfg escalation.Config, dryRun bool) (ApplyResult, error) {
	path := "/api/v1/config"
	if dryRun {
		path += "?dry_run=true"
	}
	var out ApplyResult
	return out, c.do(ctx, http.MethodPost, path, cfg, &out)
}

// GetConfig returns the server's paging configuration.
func (c *Client) GetConfig(ctx context.Context) (escalation.Config, error) {
	var out escalation.Config
	return out, c.do(ctx, http.MethodGet, "/api/v1/config", nil, &out)
}

// ConfigErrors returns the problems an invalid_config answer lists in
// details.errors, and whether err is such an answer.
func ConfigErrors(err error) ([]escalation.FieldError, bool) {
	var ae *APIError
	if !errors.As(err, &ae) || ae.Code != escalation.ErrInvalid.Code {
		return nil, false
	}
	list, _ := ae.Details["errors"].([]any)
	out := make([]escalation.FieldError, 0, len(list))
	for _, item := range list {
		m, _ := item.(map[string]any)
		field, _ := m["field"].(string)
		problem, _ := m["problem"].(string)
		out = append(out, escalation.FieldError{Field: field, Problem: problem})
	}
	return out, len(out) > 0
}
