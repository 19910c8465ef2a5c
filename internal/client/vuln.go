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

	"github.com/firebreak-dev/firebreak/internal/httpapi"
	"github.com/firebreak-dev/firebreak/services/vuln"
)

// VulnListOptions filters ListVulns.
type VulnListOptions struct {
	Status, Severity, Product, Cursor string
	Limit                             int
}

// CreateVuln records a vulnerability.
func (c *Client) CreateVuln(ctx context.Context, n vuln.NewVuln) (vuln.VulnJSON, error) {
	var out vuln.VulnJSON
	return out, c.do(ctx, http.MethodPost, "/api/v1/vulnerabilities", n, &out)
}

// ListVulns returns one page of vulnerabilities.
func (c *Client) ListVulns(ctx context.Context, o VulnListOptions) (vuln.ListJSON, error) {
	q := url.Values{}
	for k, v := range map[string]string{"status": o.Status, "severity": o.Severity, "product": o.Product, "cursor": o.Cursor} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	var out vuln.ListJSON
	return out, c.do(ctx, http.MethodGet, "/api/v1/vulnerabilities?"+q.Encode(), nil, &out)
}

// GetVuln returns a vulnerability with its history and notices.
func (c *Client) GetVuln(ctx context.Context, ref string) (vuln.DetailJSON, error) {
	var out vuln.DetailJSON
	return out, c.do(ctx, http.MethodGet, "/api/v1/vulnerabilities/"+url.PathEscape(ref), nil, &out)
}

// TransitionVuln moves a vulnerability along its lifecycle.
func (c *Client) TransitionVuln(ctx context.Context, ref string, req vuln.TransitionRequest) (vuln.VulnJSON, error) {
	var out vuln.VulnJSON
	return out, c.do(ctx, http.MethodPost, "/api/v1/vulnerabilities/"+url.PathEscape(ref)+"/transition", req, &out)
}

// PutProduct creates or replaces a product.
func (c *Client) PutProduct(ctx context.Context, p vuln.Product) (vuln.Product, error) {
	var out vuln.Product
	return out, c.do(ctx, http.MethodPut, "/api/v1/products/"+url.PathEscape(p.Name), p, &out)
}

// VulnReport returns the vulnerability report; from and to are RFC 3339
// times or dates, empty for the defaults (the last 30 days).
func (c *Client) VulnReport(ctx context.Context, from, to string) (vuln.Report, error) {
	q := url.Values{}
	if from != "" {
		q.Set("from", from)
	}
	if to != "" {
		q.Set("to", to)
	}
	var out vuln.Report
	return out, c.do(ctx, http.MethodGet, "/api/v1/vulnerabilities/report?"+q.Encode(), nil, &out)
}

// ImportScan uploads a scanner report (format osv or trivy) for a product.
// The body is sent as it is: the server parses it.
func (c *Client) ImportScan(ctx context.Context, product, format string, report io.Reader) (vuln.ImportResult, error) {
	q := url.Values{"format": {format}, "product": {product}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/api/v1/vulnerabilities/import?"+q.Encode(), report)
	if err != nil {
		return vuln.ImportResult{}, fmt.Errorf("bad server URL %q: %w", c.base, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.channel != "" {
		req.Header.Set(httpapi.ChannelHeader, c.channel)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return vuln.ImportResult{}, fmt.Errorf("cannot reach firebreak at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return vuln.ImportResult{}, fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode >= 300 {
		var eb httpapi.ErrorBody
		if json.Unmarshal(raw, &eb) == nil && eb.Error.Code != "" {
			return vuln.ImportResult{}, &APIError{Status: resp.StatusCode, Code: eb.Error.Code, Message: eb.Error.Message, Details: eb.Error.Details}
		}
		return vuln.ImportResult{}, &APIError{Status: resp.StatusCode, Code: "http_" + strconv.Itoa(resp.StatusCode), Message: strings.TrimSpace(string(raw))}
	}
	var out vuln.ImportResult
	if err := json.NewDecoder(bytes.NewReader(raw)).Decode(&out); err != nil {
		return out, fmt.Errorf("decode import answer: %w", err)
	}
	return out, nil
}
