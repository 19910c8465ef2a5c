package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/firebreak-dev/firebreak/internal/token"
)

// CreateToken creates a scoped API token (admin only). The answer holds the
// token's secret, which the server cannot show again.
func (c *Client) CreateToken(ctx context.Context, spec token.Spec) (token.CreatedJSON, error) {
	var out token.CreatedJSON
	return out, c.do(ctx, http.MethodPost, "/api/v1/tokens", spec, &out)
}

// ListTokens lists every scoped API token, revoked ones included (admin only).
func (c *Client) ListTokens(ctx context.Context) (token.ListJSON, error) {
	var out token.ListJSON
	return out, c.do(ctx, http.MethodGet, "/api/v1/tokens", nil, &out)
}

// RevokeToken revokes a scoped API token (admin only) and returns it.
func (c *Client) RevokeToken(ctx context.Context, id string) (token.Token, error) {
	var out token.Token
	return out, c.do(ctx, http.MethodDelete, "/api/v1/tokens/"+url.PathEscape(id), nil, &out)
}
