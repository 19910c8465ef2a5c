package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/firebreak-dev/firebreak/internal/integration"
)

// CreateIntegration creates an integration key for a service (config:write).
// The answer holds the key (and a Grafana integration's signing secret),
// which the server cannot show again.
func (c *Client) CreateIntegration(ctx context.Context, spec integration.Spec) (integration.Created, error) {
	var out integration.Created
	return out, c.do(ctx, http.MethodPost, "/api/v1/integrations", spec, &out)
}

// ListIntegrations lists every integration, revoked ones included, never
// their keys (config:write).
func (c *Client) ListIntegrations(ctx context.Context) (integration.ListJSON, error) {
	var out integration.ListJSON
	return out, c.do(ctx, http.MethodGet, "/api/v1/integrations", nil, &out)
}

// RevokeIntegration revokes an integration key (config:write) and returns
// the integration.
func (c *Client) RevokeIntegration(ctx context.Context, id string) (integration.Integration, error) {
	var out integration.Integration
	return out, c.do(ctx, http.MethodDelete, "/api/v1/integrations/"+url.PathEscape(id), nil, &out)
}
