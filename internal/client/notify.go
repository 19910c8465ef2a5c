package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/firebreak-dev/firebreak/services/notify"
)

// Notifications lists the deliveries of an incident's pages (id, INC-42
// or 42): provider, target, status, attempts and the reason of a failure.
func (c *Client) Notifications(ctx context.Context, ref string) (notify.DeliveriesJSON, error) {
	var out notify.DeliveriesJSON
	return out, c.do(ctx, http.MethodGet, "/api/v1/incidents/"+url.PathEscape(ref)+"/notifications", nil, &out)
}
