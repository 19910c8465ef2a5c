package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/firebreak-dev/firebreak/services/incident"
)

// AlertOptions filters IncidentAlerts.
type AlertOptions struct {
	Status string // "", firing or resolved
	Limit  int
	Cursor string
}

// IncidentAlerts returns one page of an incident's alerts (id, INC-42 or
// 42), each alert of an Alertmanager or Grafana group by its fingerprint,
// with counts by status.
func (c *Client) IncidentAlerts(ctx context.Context, ref string, o AlertOptions) (incident.AlertListJSON, error) {
	q := url.Values{}
	if o.Status != "" {
		q.Set("status", o.Status)
	}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	if o.Cursor != "" {
		q.Set("cursor", o.Cursor)
	}
	path := "/api/v1/incidents/" + url.PathEscape(ref) + "/alerts"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out incident.AlertListJSON
	return out, c.do(ctx, http.MethodGet, path, nil, &out)
}
